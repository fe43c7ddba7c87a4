"""Languages and writing direction of a page's text, from the scripts of its letters."""

from __future__ import annotations

import re
from collections import Counter

from pipeline.scripts import char_script, script_counts

_RTL_SCRIPTS = frozenset({"Arabic", "Hebrew", "Syriac"})
_SCRIPT_LANGUAGE = {"Arabic": "ar", "Hebrew": "he", "Greek": "el", "Cyrillic": "ru", "Kana": "ja",
                    "Han": "zh", "Hangul": "ko", "Thai": "th", "Devanagari": "hi", "Syriac": "syr"}
# A few very common function words tell the main Latin-script languages apart; anything else is "en".
_LATIN_STOPWORDS = {
    "en": {"the", "and", "of", "to", "is", "for", "with", "this", "that", "are"},
    "fr": {"le", "la", "les", "des", "et", "est", "pour", "dans", "une", "du"},
    "de": {"der", "die", "und", "das", "ist", "nicht", "mit", "den", "für", "ein"},
    "es": {"el", "los", "las", "del", "que", "para", "por", "una", "con", "y"},
    "it": {"il", "della", "che", "per", "di", "una", "sono", "con", "gli", "non"},
    "nl": {"de", "het", "een", "van", "en", "niet", "voor", "met", "zijn", "op"},
    "pt": {"o", "os", "da", "do", "que", "para", "uma", "com", "não", "em"},
    "la": {"ut", "sed", "vel", "eu", "nec", "quis", "amet", "dolor", "ipsum", "sit"},  # lorem ipsum fillers
}


def is_rtl_char(ch: str) -> bool:
    """True for letters written right to left (Arabic, Hebrew, Syriac).

    >>> is_rtl_char("ش"), is_rtl_char("a"), is_rtl_char("1")
    (True, False, False)
    """
    return char_script(ch) in _RTL_SCRIPTS


def is_cjk(ch: str) -> bool:
    """True for Chinese/Japanese characters and their punctuation, which are written without spaces.

    >>> is_cjk("中"), is_cjk("。"), is_cjk("a")
    (True, True, False)
    """
    return char_script(ch) in ("Han", "Kana") or 0x3000 <= ord(ch) <= 0x303F or 0xFF00 <= ord(ch) <= 0xFFEF


def _latin_language(text: str) -> str:
    words = Counter(w.lower() for w in re.findall(r"[^\W\d_]+", text))
    scores = {lang: sum(words[w] for w in stop) for lang, stop in _LATIN_STOPWORDS.items()}
    best = max(scores, key=lambda lang: (scores[lang], lang == "en"))
    # A clear majority is needed to move off the default: a French name on an English page stays "en".
    return best if scores[best] >= 3 and scores[best] > 1.5 * scores["en"] else "en"


def guess_languages(text: str, min_share: float = 0.03, min_letters: int = 4) -> list[str]:
    """ISO 639-1 codes from the scripts of the letters, main one first.

    A script is mapped to one language (Arabic -> ar, Cyrillic -> ru, Han -> zh, or ja when kana is
    present): good enough for a label, wrong for Persian/Urdu or Ukrainian. Latin text is told apart
    among en/fr/de/es/it/nl/pt by common function words, defaulting to en.

    >>> guess_languages("قانون رقم 8 لسنة 2022 بشأن المنشآت الفندقية (Hotel Law)")
    ['ar', 'en']
    >>> guess_languages("日本語のテキストです")
    ['ja']
    >>> guess_languages("12 34")
    []
    """
    counts = script_counts(text)
    if counts.get("Kana") and counts.get("Han"):
        counts["Kana"] += counts.pop("Han")  # Japanese mixes kanji with kana
    total = sum(counts.values())
    out: list[str] = []
    for script, n in counts.most_common():
        if n < min_letters or n < min_share * total:
            continue
        lang = _latin_language(text) if script == "Latin" else _SCRIPT_LANGUAGE.get(script)
        if lang and lang not in out:
            out.append(lang)
    return out


def text_direction(text: str, rtl_at: float = 0.65, ltr_at: float = 0.35) -> str:
    """'rtl', 'ltr' or 'mixed' from the share of right-to-left letters among all letters.

    >>> text_direction("تحية طيبة وبعد"), text_direction("Dear Sir"), text_direction("Bank بنك")
    ('rtl', 'ltr', 'mixed')
    """
    counts = script_counts(text)
    letters = sum(counts.values())
    if not letters:
        return "ltr"
    share = sum(n for s, n in counts.items() if s in _RTL_SCRIPTS) / letters
    return "rtl" if share >= rtl_at else "ltr" if share <= ltr_at else "mixed"
