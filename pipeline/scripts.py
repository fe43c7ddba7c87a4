"""Which writing system a letter belongs to: one answer for the answer checks and the textlayer teacher.

Only letters have a script here. Digits, punctuation and combining marks have none, so "2025", "،"
or a vowel sign never make a page Arabic or an answer foreign on their own.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

# (first, last, script) code point ranges: the blocks documents are written in, with their
# supplements and presentation forms (enough to catch a model switching script, and to tell
# Arabic, Hebrew, CJK and Latin apart on a page). Names follow the Unicode script names, except
# "Kana" for Hiragana and Katakana together.
_SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0041, 0x005A, "Latin"), (0x0061, 0x007A, "Latin"), (0x00C0, 0x024F, "Latin"),
    (0x1E00, 0x1EFF, "Latin"), (0x0370, 0x03FF, "Greek"), (0x1F00, 0x1FFF, "Greek"),
    (0x0400, 0x052F, "Cyrillic"), (0x0590, 0x05FF, "Hebrew"), (0xFB1D, 0xFB4F, "Hebrew"),
    (0x0600, 0x06FF, "Arabic"), (0x0750, 0x077F, "Arabic"), (0x08A0, 0x08FF, "Arabic"),
    (0xFB50, 0xFDFF, "Arabic"), (0xFE70, 0xFEFF, "Arabic"), (0x0700, 0x07BF, "Syriac"),
    (0x0900, 0x097F, "Devanagari"), (0x0E00, 0x0E7F, "Thai"), (0x3040, 0x30FF, "Kana"),
    (0x31F0, 0x31FF, "Kana"), (0xFF66, 0xFF9F, "Kana"), (0x3400, 0x4DBF, "Han"), (0x4E00, 0x9FFF, "Han"),
    (0xF900, 0xFAFF, "Han"), (0x20000, 0x2FA1F, "Han"), (0x1100, 0x11FF, "Hangul"),
    (0x3130, 0x318F, "Hangul"), (0xAC00, 0xD7AF, "Hangul"),
)


@lru_cache(maxsize=8192)
def char_script(ch: str) -> str | None:
    """The script of one letter, or None for digits, punctuation, symbols and unknown scripts.

    Memoised: a page has a few hundred distinct characters and tens of thousands of letters (the
    range scan was a fifth of the textlayer teacher's time, measured).

    >>> [char_script(c) for c in "aب5ж中"]
    ['Latin', 'Arabic', None, 'Cyrillic', 'Han']
    >>> char_script("ש"), char_script("カ"), char_script("한"), char_script("×"), char_script("٣")
    ('Hebrew', 'Kana', 'Hangul', None, None)
    """
    cp = ord(ch)
    if cp in (0xD7, 0xF7):  # × and ÷ sit inside the Latin-1 letter range
        return None
    for first, last, script in _SCRIPT_RANGES:
        if first <= cp <= last:
            return script if ch.isalpha() else None
    return None


def script_counts(text: str) -> Counter:
    """Letters per script.

    >>> script_counts("Invoice فاتورة")
    Counter({'Latin': 7, 'Arabic': 6})
    """
    counts: Counter = Counter()
    for ch, n in Counter(text).items():  # each distinct character once; scripts in first-seen order
        script = char_script(ch)
        if script:
            counts[script] += n
    return counts


def strings_of(value) -> list[str]:
    """Every string (and number, as text) inside a JSON value.

    >>> strings_of({"a": ["x", {"b": 2}], "c": None})
    ['x', '2']
    """
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings_of(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings_of(v)]
    if value is None or isinstance(value, bool):
        return []
    return [str(value)]
