"""Leaf metrics on strings and numbers: ANLS, numeric match, CER and normalised edit distance.

All edit distances come from rapidfuzz (C++, bit-parallel), which keeps a 5 KB markdown page well
under a millisecond.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz.distance import Levenshtein

ANLS_THRESHOLD = 0.5

_MAX_NUMBER_CHARS = 40   # longer strings are text, whatever digits they hold (and skip the regexes)
_PLAIN_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_DIGIT = re.compile(r"\d")
# An amount or count as printed: optional currency, sign, digits with , . or space grouping.
_NUMBER = re.compile(r"^[-+]?\d[\d,. \u00a0']*$|^[-+]?[.,]\d+$")
_CODES = r"US\$|S\$|RM|Rp|Rs\.?|SAR|AED|USD|EUR|GBP|QAR|KWD|EGP|INR|[$€£¥₹﷼]"
_CURRENCY = re.compile(rf"^(?:{_CODES})\s*|\s*(?:{_CODES})$", re.IGNORECASE)


def distance(a: str, b: str) -> int:
    """Levenshtein distance, trying narrow bands first: close pairs (most answers) cost 5-40x less.

    rapidfuzz bounds the work by the cutoff; up to 31 edits the band fits one machine word.

    >>> distance("kitten", "sitting"), distance("a" * 3000, "b" * 3000), distance("ab" * 500, "ba" * 500)
    (3, 3000, 2)
    """
    longest = max(len(a), len(b))
    for band in (31, 63, longest // 25):
        if band < longest:
            found = Levenshtein.distance(a, b, score_cutoff=band)
            if found <= band:
                return found
    return Levenshtein.distance(a, b)


@lru_cache(maxsize=16)
def normalise(text: str) -> str:
    """Case-folded, with every run of whitespace one space and the ends trimmed; memoised: a long
    page is normalised once per score, shared by ANLS and the repetition check.

    >>> normalise("  Total\\n  DUE ")
    'total due'
    """
    # lower() gives casefold()'s result on ASCII, faster
    return " ".join((text.lower() if text.isascii() else text.casefold()).split())


def anls(prediction: str, reference: str, threshold: float = ANLS_THRESHOLD) -> float:
    """Average Normalised Levenshtein Similarity of one pair: 1 - NL, or 0 when NL reaches the threshold.

    Case-insensitive and whitespace-normalised. NL = distance / max(len): "abcd" vs "abxx" is 2/4 = 0.5,
    which is at the threshold and scores 0; one edit in four scores 0.75.

    >>> anls("Total DUE", "total  due")
    1.0
    >>> anls("abcd", "abcx")
    0.75
    >>> anls("abcd", "abxx")
    0.0
    >>> round(anls("abcdefghi", "abcdeXXXX"), 4)   # 4/9 = 0.444 < 0.5: kept
    0.5556
    >>> anls("", "")
    1.0
    """
    a, b = normalise(prediction), normalise(reference)
    if a == b:
        return 1.0
    ratio = distance(a, b) / max(len(a), len(b))
    return 0.0 if ratio >= threshold else 1.0 - ratio


def parse_number(value) -> float | None:
    """The number a printed amount means, or None when it is not one.

    Thousands separators (, . space ') and currency marks go; the last , or . followed by one or two
    digits (or the only separator, if not three digits follow it) is the decimal point.

    >>> [parse_number(v) for v in ("1,000.50", "1000.5", "RM 9.00", "$1 234", "1.234,5", "12", 7, "12a", "")]
    [1000.5, 1000.5, 9.0, 1234.0, 1234.5, 12.0, 7.0, None, None]
    >>> parse_number("1,234")   # three digits after the only comma: a thousands separator
    1234.0
    >>> parse_number(True) is None
    True
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str) or len(value) > _MAX_NUMBER_CHARS:
        return None
    if _PLAIN_NUMBER.fullmatch(value):   # the common case: "9.00", "12", "-3.5"
        return float(value)
    if not _DIGIT.search(value):
        return None
    text = _CURRENCY.sub("", value.strip()).strip()
    if not text or not _NUMBER.match(text):
        return None
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-").replace(" ", "").replace("\u00a0", "").replace("'", "")
    last = max(body.rfind(","), body.rfind("."))
    if last != -1:
        decimals = len(body) - last - 1
        single_kind = body.count(body[last]) == 1 and (("," in body) != ("." in body))
        if decimals == 3 and single_kind and last != 0:
            last = -1   # 1,234 or 1.234: grouping, not a decimal point
    if last == -1:
        digits = body.replace(",", "").replace(".", "")
        return sign * float(digits) if digits.isdigit() else None
    whole = body[:last].replace(",", "").replace(".", "")
    frac = body[last + 1:]
    if (whole and not whole.isdigit()) or (frac and not frac.isdigit()):
        return None
    return sign * float(f"{whole or '0'}.{frac or '0'}")


def numbers_equal(prediction, reference) -> bool | None:
    """True/False when both sides are numbers, None when either is not (then compare as text).

    >>> numbers_equal("1,000.50", "1000.5"), numbers_equal("9.00", "9.01"), numbers_equal("9", "nine")
    (True, False, None)
    """
    a, b = parse_number(prediction), parse_number(reference)
    if a is None or b is None:
        return None
    return abs(a - b) < 1e-9 * max(1.0, abs(b))


def edit_rates(prediction: str, reference: str) -> tuple[float, float]:
    """(CER, NED) of raw text: CER = edits / len(reference) (can pass 1), NED = edits / max(len).

    >>> edit_rates("kitten", "sitting")   # 3 edits
    (0.42857142857142855, 0.42857142857142855)
    >>> edit_rates("abc", "")
    (1.0, 1.0)
    >>> edit_rates("", "")
    (0.0, 0.0)
    """
    if prediction == reference:
        return 0.0, 0.0
    edits = distance(prediction, reference)
    cer = edits / len(reference) if reference else 1.0
    return cer, edits / max(len(prediction), len(reference))
