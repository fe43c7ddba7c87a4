"""Text normalisation before scoring: what counts as the same text, chosen by the user and stated in the report.

``--normalize`` picks a level, applied to prediction and reference alike before CER, NED, WER and
ANLS*; the raw scores are always kept beside the normalised ones (``cer`` and ``cer@arabic``):

- ``none``: the text as written.
- ``basic``: Unicode NFKC, bidi control characters removed, Arabic-Indic and Persian digits to
  ASCII, tatweel removed, whitespace collapsed. None of these changes what a reader reads.
- ``arabic``: basic, plus harakat (diacritics) removed and alef / yeh / teh marbuta variants
  unified: spellings that Arabic readers, and most Arabic OCR benchmarks, treat as the same word.

Each rule is its own function with a worked example. On text without Arabic, ``arabic`` and
``basic`` give the same result: English scores do not move between them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

NORMALIZATIONS = ("none", "basic", "arabic")
DEFAULT_NORMALIZATION = "arabic"

_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_TO_ASCII_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_TO_ARABIC_INDIC = str.maketrans("0123456789۰۱۲۳۴۵۶۷۸۹", "٠١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩")
_TATWEEL = "\u0640"
# Harakat and Quranic marks: U+064B-U+065F (tanween, fatha, damma, kasra, shadda, sukun, ...), the
# superscript alef U+0670 and the Quranic annotation signs U+06D6-U+06ED.
_HARAKAT = re.compile("[\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed]")
_LETTER_VARIANTS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ئ": "ي", "ة": "ه"})
_SPACES = re.compile(r"\s+")


def remove_bidi_controls(text: str) -> str:
    """Drop the invisible direction marks (LRM, RLM, ALM, embeddings, isolates) OCR and editors insert.

    >>> remove_bidi_controls("\\u200fرقم\\u200e 12")
    'رقم 12'
    """
    return text.translate(_BIDI_CONTROLS)


def ascii_digits(text: str) -> str:
    """Arabic-Indic (٠-٩) and Persian (۰-۹) digits to ASCII.

    >>> ascii_digits("المادة ٣٢ لسنة ۱۴۰۲")
    'المادة 32 لسنة 1402'
    """
    return text.translate(_TO_ASCII_DIGITS)


def arabic_indic_digits(text: str) -> str:
    """The reverse: ASCII and Persian digits to Arabic-Indic (for references written that way).

    >>> arabic_indic_digits("2024/7")
    '٢٠٢٤/٧'
    """
    return text.translate(_TO_ARABIC_INDIC)


def remove_tatweel(text: str) -> str:
    """Drop the tatweel (kashida, U+0640): it stretches a word for justification, it is no letter.

    >>> remove_tatweel("بســـم")
    'بسم'
    """
    return text.replace(_TATWEEL, "")


def remove_harakat(text: str) -> str:
    """Drop the short-vowel and other diacritic marks (most printed text omits them; OCR often does).

    >>> remove_harakat("مُحَمَّدٌ")
    'محمد'
    """
    return _HARAKAT.sub("", text)


def unify_letter_variants(text: str) -> str:
    """Alef with hamza or madda (أ إ آ ٱ) -> ا; alef maqsura ى and yeh with hamza ئ -> ي; teh marbuta ة -> ه.

    >>> unify_letter_variants("إلى مدرسة أحمد")
    'الي مدرسه احمد'
    """
    return text.translate(_LETTER_VARIANTS)


def collapse_whitespace(text: str) -> str:
    """Every run of white space (line breaks included) one space; the ends trimmed.

    >>> collapse_whitespace("  a\\n\\n b\\t c ")
    'a b c'
    """
    return _SPACES.sub(" ", text).strip()


def nfkc(text: str) -> str:
    """Unicode NFKC: presentation forms and ligatures to their letters (ﻻ -> لا, ﬁ -> fi).

    >>> nfkc("ﻻ ﬁ") == "لا fi"
    True
    """
    return unicodedata.normalize("NFKC", text)


_RULES: dict[str, tuple[Callable[[str], str], ...]] = {
    "none": (),
    "basic": (nfkc, remove_bidi_controls, ascii_digits, remove_tatweel, collapse_whitespace),
    "arabic": (nfkc, remove_bidi_controls, ascii_digits, remove_tatweel, remove_harakat, unify_letter_variants,
               collapse_whitespace),
}


def rules(level: str) -> list[str]:
    """The rules a level applies, by name, for the report.

    >>> rules("basic")
    ['nfkc', 'remove_bidi_controls', 'ascii_digits', 'remove_tatweel', 'collapse_whitespace']
    """
    if level not in _RULES:
        raise ValueError(f"unknown normalisation {level!r}: use one of {', '.join(NORMALIZATIONS)}")
    return [fn.__name__ for fn in _RULES[level]]


@lru_cache(maxsize=256)
def normalize(text: str, level: str) -> str:
    """``text`` under a normalisation level (memoised: a reference is scored against every system).

    >>> normalize("قَالَ  أحمدُ: ٣ ", "arabic"), normalize("Total  DUE\\n", "arabic"), normalize("x\\u200f", "none")
    ('قال احمد: 3', 'Total DUE', 'x\\u200f')
    """
    for rule in _RULES[level]:
        text = rule(text)
    return text


def normalize_value(value, level: str):
    """Every string inside a JSON value normalised (keys and other values unchanged).

    >>> normalize_value({"a": ["إلى", 3], "b": None}, "arabic")
    {'a': ['الي', 3], 'b': None}
    """
    if level == "none":
        return value
    if isinstance(value, str):
        return normalize(value, level)
    if isinstance(value, dict):
        return {k: normalize_value(v, level) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize_value(v, level) for v in value]
    return value


def describe(level: str) -> dict:
    """What the report says about the normalisation in use."""
    return {"level": level, "default": DEFAULT_NORMALIZATION, "rules": rules(level),
            "note": "scores under this normalisation are the <metric>@" + level + " columns; the plain ones are raw"}


def word_error_rate(prediction: str, reference: str) -> float:
    """Word edits (insertions, deletions, substitutions) / reference words; 1.0 for words against none.

    >>> word_error_rate("the cat sat", "the cat sat down"), word_error_rate("", ""), word_error_rate("a", "")
    (0.25, 0.0, 1.0)
    """
    from rapidfuzz.distance import Levenshtein

    pred, ref = prediction.split(), reference.split()
    if not ref:
        return 0.0 if not pred else 1.0
    return Levenshtein.distance(pred, ref) / len(ref)


def normalized_scores(obj: dict | None, reference: dict, level: str, markdown_field: str = "markdown", *,
                      weighting: str = "leaf", anls_name: str = "anls_star") -> dict:
    """Under a normalisation other than none: WER of the raw markdown, and ANLS*, CER, NED and WER under
    ``level`` as ``<metric>@<level>`` (beside the raw anls_star, cer and ned the scorer always gives).

    >>> s = normalized_scores({"markdown": "قَالَ إلى"}, {"markdown": "قال الى"}, "arabic")
    >>> s["cer@arabic"], s["anls_star@arabic"], s["wer"]
    (0.0, 1.0, 1.0)
    """
    from pipeline.evaluation.fields import anls_star
    from pipeline.evaluation.text import edit_rates

    out: dict[str, float] = {}
    if level == "none":
        return out
    ref_md = reference.get(markdown_field)
    pred_md = obj.get(markdown_field) if obj is not None else None
    has_md = isinstance(ref_md, str)
    if has_md:
        out["wer"] = word_error_rate(pred_md, ref_md) if isinstance(pred_md, str) else (1.0 if ref_md.split() else 0.0)
    out[f"{anls_name}@{level}"] = anls_star(normalize_value(obj, level), normalize_value(reference, level),
                                            weighting=weighting) if obj is not None else 0.0
    if has_md:
        ref_n = normalize(ref_md, level)
        if isinstance(pred_md, str):
            pred_n = normalize(pred_md, level)
            out[f"cer@{level}"], out[f"ned@{level}"] = edit_rates(pred_n, ref_n)
            out[f"wer@{level}"] = word_error_rate(pred_n, ref_n)
        else:
            out[f"cer@{level}"] = out[f"ned@{level}"] = out[f"wer@{level}"] = 1.0 if ref_n else 0.0
    return out
