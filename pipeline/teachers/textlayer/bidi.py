"""Bidi: from visual (geometric) order back to logical order.

Right-to-left text comes out of many producers in *visual* order at the run level: a line reading
"قانون رقم 8 لسنة 2022" is stored as the runs "2022", "لسنة", "8", "قانون رقم" from left to right
(naturalpdf__arabic.pdf does this). The letters inside each Arabic run are in logical order, but
the runs are not. ``visual_to_logical`` rebuilds the logical order from glyph *positions*, which
is the same whatever order the producer wrote the runs in (MuPDF Story output, for example, is
already logical and comes out unchanged).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence


def _bidi_kind(ch: str) -> str:
    """'R' (right-to-left letter), 'L' (left-to-right letter), 'D' (digit) or 'N' (neutral)."""
    cls = unicodedata.bidirectional(ch[0]) if ch else ""
    if cls in ("R", "AL"):
        return "R"
    if cls == "L":
        return "L"
    if cls in ("EN", "AN"):
        return "D"
    return "N"


def _resolve_levels(kinds: Sequence[str], rtl_base: bool) -> list[int]:
    """Simplified Unicode bidi levels for a line: base 1 (RTL) or 0; L and digits inside RTL get 2."""
    n = len(kinds)
    base = 1 if rtl_base else 0
    levels = [base] * n
    strong = [None] * n  # resolved direction per item: 'R', 'L' or None for neutrals
    for i, k in enumerate(kinds):
        if k == "R":
            strong[i] = "R"
        elif k == "L":
            strong[i] = "L"
    for i, k in enumerate(kinds):  # digits follow the nearest letters: inside Arabic they stay LTR runs
        if k == "D":
            strong[i] = "L" if rtl_base else ("R" if _neighbour_strong(strong, i) == ("R", "R") else "L")
            if not rtl_base and strong[i] == "R":
                levels[i] = 2
                strong[i] = "D"
    for i, s in enumerate(strong):
        if s == "R":
            levels[i] = 1
        elif s == "L":
            levels[i] = 2 if rtl_base else 0
    for i, s in enumerate(strong):  # neutrals between two runs of the same direction join them
        if s is None:
            left, right = _neighbour_levels(levels, strong, i)
            if left is not None and left == right:
                levels[i] = left
            elif left is not None and right is not None and not rtl_base and min(left, right) >= 1:
                levels[i] = 1
    return levels


def _neighbour_strong(strong: list, i: int) -> tuple:
    left = next((strong[j] for j in range(i - 1, -1, -1) if strong[j] in ("R", "L")), None)
    right = next((strong[j] for j in range(i + 1, len(strong)) if strong[j] in ("R", "L")), None)
    return (left or right, right or left)


def _neighbour_levels(levels: list[int], strong: list, i: int) -> tuple:
    left = next((levels[j] for j in range(i - 1, -1, -1) if strong[j] is not None), None)
    right = next((levels[j] for j in range(i + 1, len(strong)) if strong[j] is not None), None)
    return left, right


def visual_to_logical(clusters: Sequence[str], rtl_base: bool) -> str:
    """Logical text from character clusters given in visual order (left to right on the page).

    Inverts the Unicode bidi reordering: resolve levels, then reverse the runs at each level from the
    lowest odd level up (the display step reverses them from the highest level down).

    >>> visual = list("2022 ") + ["ة", "ن", "س", "ل", " ", "8", " ", "م", "ق", "ر", " ", "ن", "و", "ن", "ا", "ق"]
    >>> visual_to_logical(visual, rtl_base=True)
    'قانون رقم 8 لسنة 2022'
    >>> visual_to_logical(list("Bank ") + ["ك", "ن", "ب"], rtl_base=False)
    'Bank بنك'
    """
    items = list(clusters)
    if not items:
        return ""
    levels = _resolve_levels([_bidi_kind(c) for c in items], rtl_base)
    pairs = list(zip(items, levels))
    top = max(levels)
    low_odd = 1
    for level in range(low_odd, top + 1):
        i = 0
        while i < len(pairs):
            if pairs[i][1] >= level:
                j = i
                while j < len(pairs) and pairs[j][1] >= level:
                    j += 1
                pairs[i:j] = pairs[i:j][::-1]
                i = j
            else:
                i += 1
    return "".join(c for c, _ in pairs)


_MIRROR = str.maketrans("()[]{}<>«»", ")(][}{><»«")


def fix_mirrored_brackets(text: str) -> str:
    """Swap brackets that a right-to-left line stored by glyph shape: ")شكرا(" -> "(شكرا)".

    Only when that makes the brackets pair up (a closing one before any opening one otherwise).

    >>> fix_mirrored_brackets("قبل )شكرا(.")
    'قبل (شكرا).'
    >>> fix_mirrored_brackets("(المادة الأولى)")
    '(المادة الأولى)'
    """
    def balanced(s: str) -> bool:
        depth = 0
        for ch in s:
            depth += ch in "([{"
            depth -= ch in ")]}"
            if depth < 0:
                return False
        return depth == 0

    if balanced(text) or not any(c in text for c in "()[]{}"):
        return text
    swapped = text.translate(_MIRROR)
    return swapped if balanced(swapped) else text
