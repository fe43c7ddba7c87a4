"""Leaf metrics on text: ANLS, CER and normalised edit distance (numbers: ``numbers.py``).

All edit distances come from rapidfuzz (C++, bit-parallel), which keeps a 5 KB markdown page well
under a millisecond.
"""

from __future__ import annotations

from functools import lru_cache

from rapidfuzz.distance import Levenshtein

ANLS_THRESHOLD = 0.5


def distance(a: str, b: str, limit: int | None = None) -> int:
    """Levenshtein distance, trying narrow bands first: close pairs (most answers) cost 5-40x less.

    rapidfuzz bounds the work by the cutoff; up to 31 edits the band fits one machine word. With a
    ``limit``, any count above it comes back as ``limit + 1`` (the caller only needs to know that).

    >>> distance("kitten", "sitting"), distance("a" * 3000, "b" * 3000), distance("ab" * 500, "ba" * 500)
    (3, 3000, 2)
    >>> distance("a" * 3000, "b" * 3000, limit=1500), distance("kitten", "sitting", limit=2), distance("a" * 100, "")
    (1501, 3, 100)
    """
    longest = max(len(a), len(b))
    cap = longest if limit is None else min(limit, longest)
    at_least = abs(len(a) - len(b))    # a lower bound: bands below it cannot hold the answer
    for band in (31, 63, longest // 25):
        if at_least <= band < cap:
            found = Levenshtein.distance(a, b, score_cutoff=band)
            if found <= band:
                return found
    return Levenshtein.distance(a, b, score_cutoff=cap)


_ASCII_SPACES = "\n\t\r\x0b\x0c\x1c\x1d\x1e\x1f"          # what str.split() splits on, besides " "
_SPACES = (*_ASCII_SPACES, "\x85", "\xa0", "\u1680", *map(chr, range(0x2000, 0x200b)), "\u2028", "\u2029", "\u202f",
           "\u205f", "\u3000")
_LONG = 64   # shorter texts are split and joined on every call: cheaper than the cache, and they would evict pages


def normalise(text: str) -> str:
    """Case-folded, with every run of whitespace one space and the ends trimmed (``" ".join(text.split())``);
    a long text is memoised: a page is normalised once per score, shared by ANLS and the repetition check.

    >>> normalise("  Total\\n  DUE "), normalise("Straße\\u00a0\\u2003 No.\\t5")
    ('total due', 'strasse no. 5')
    """
    if len(text) < _LONG:    # lower() gives casefold()'s result on ASCII, faster
        return " ".join((text.lower() if text.isascii() else text.casefold()).split())
    return _normalise_long(text)


@lru_cache(maxsize=32)
def _normalise_long(text: str) -> str:
    # one-character replaces and a collapse of double spaces beat split() and join() on a page
    # (~800 words): no string per word
    folded = text.lower() if text.isascii() else text.casefold()
    for space in _ASCII_SPACES if folded.isascii() else _SPACES:
        if space in folded:
            folded = folded.replace(space, " ")
    while "  " in folded:
        folded = folded.replace("  ", " ")
    return folded.strip(" ")


def anls(prediction: str, reference: str, threshold: float = ANLS_THRESHOLD) -> float:
    """Normalised Levenshtein Similarity of one pair as ANLS scores it: 1 - NL, or 0 below the threshold.

    Case-insensitive and whitespace-normalised; NL = distance / max(len). A pair exactly at the
    threshold keeps its similarity ("abcd" vs "abxx": NL 2/4, score 0.5), as the Robust Reading
    Competition's DocVQA/InfographicVQA scripts and the anls-star package compute it (Biten et al.
    write NL < 0.5, and the ``anls`` PyPI package gives 0 there); one more edit scores 0.

    >>> anls("Total DUE", "total  due")
    1.0
    >>> anls("abcd", "abcx"), anls("abcd", "abxx"), anls("abcd", "axxx")
    (0.75, 0.5, 0.0)
    >>> round(anls("abcdefghi", "abcdeXXXX"), 4)   # 4/9 = 0.444 < 0.5: kept
    0.5556
    >>> anls("", ""), anls("", "a")
    (1.0, 0.0)
    """
    return similarity(normalise(prediction), normalise(reference), threshold)


def similarity(a: str, b: str, threshold: float = ANLS_THRESHOLD) -> float:
    """``anls`` of two already normalised texts; the edit count stops at the threshold (the rest scores 0).

    >>> similarity("total", "totel"), similarity("a" * 4000, "b" * 4000)
    (0.8, 0.0)
    """
    if a == b:
        return 1.0
    longest = max(len(a), len(b))
    # 1 - NL < threshold  <=>  edits > longest * (1 - threshold): no need to count further
    edits = distance(a, b, limit=int(longest * (1 - threshold)))
    score = 1.0 - edits / longest
    return 0.0 if score < threshold else score


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
