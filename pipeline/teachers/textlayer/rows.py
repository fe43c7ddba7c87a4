"""Rows -> kinds: headings (font size against the page's body size, or bold), list items, a page number,
running headers and footers, and which rows continue a paragraph or a sentence."""

from __future__ import annotations

import re
from collections import Counter

import pymupdf

from pipeline.teachers.textlayer.layout import BAND, page_number_of
from pipeline.teachers.textlayer.parts import Row

HEADING_RATIO = 1.15         # a row this much larger than the body text is a heading
BULLET = re.compile(r"^\s*([•◦▪▫‣⁃●○■□➢❖✓–—*·-])\s+(.*)$")
_NUMBERED = re.compile(r"^\s*(\(?(?:\d{1,3}|[a-z]|[ivx]{1,4}|[٠-٩]{1,3})[.)])\s+\S")


def digits_masked(text: str) -> str:
    """A line's words without digits and punctuation, sorted: the same running header whatever its
    page number and whatever order the words were extracted in.

    >>> digits_masked("Page 3 of 12"), digits_masked("2022 (مكرر) العدد- 9")
    ('of page', 'العدد مكرر')
    """
    words = ("".join(c for c in w if c.isalpha()) for w in text.lower().split())
    return " ".join(sorted(w for w in words if w)) or "#"


def classify_rows(rows: list[Row], frame: pymupdf.Rect, body: float, running: set[str] = frozenset()) -> None:
    """Set each row's kind (page number, header, footer, heading, list, body) and heading level.

    A line in the top/bottom band is a running header/footer when the neighbouring pages repeat it,
    or when it is short and not larger than the body text (a letterhead's big name stays a heading).
    """
    h = frame.height or 1
    heading_sizes = sorted({r.size for r in rows if r.size >= HEADING_RATIO * body and len(r.text) <= 200},
                           reverse=True)
    levels = {s: min(i + 1, 6) for i, s in enumerate(heading_sizes[:3])}
    per_block = Counter(r.block for r in rows)
    # Without neighbouring pages to compare, a big line in the top band makes it a letterhead, not a header.
    letterhead = any(r.rect.y1 / h < BAND + 0.03 and r.size >= HEADING_RATIO * body for r in rows)
    for k, row in enumerate(rows):
        top, bottom = row.rect.y1 / h, row.rect.y0 / h
        in_band = top < BAND + 0.03 or bottom > 1 - BAND - 0.03
        repeated = digits_masked(row.text) in running
        short_band_line = ((top < BAND and not letterhead) or bottom > 1 - BAND) and row.size <= body \
            and len(row.text) <= 120 and not running
        nxt = rows[k + 1] if k + 1 < len(rows) else None
        leads_block = (per_block[row.block] <= 2 or (
            (k == 0 or rows[k - 1].block != row.block) and nxt is not None and nxt.block == row.block and not nxt.bold))
        if in_band and page_number_of(row.text) is not None and len(row.text) <= 20:
            row.kind = "page_number"
        elif in_band and (repeated or short_band_line):
            row.kind = "header" if top < 0.5 else "footer"
        elif row.field:
            row.kind = row.field
        elif row.size >= HEADING_RATIO * body and len(row.text) <= 200 and row.pieces <= 2 \
                and sum(c.isalpha() for c in row.text) >= 2:
            row.kind, row.level = "heading", levels.get(row.size, min(len(levels) + 1, 6))
        elif (row.bold and leads_block and row.pieces == 1 and len(row.text) <= 80
              and not re.search(r"[:.]\s*$", row.text) and any(c.isalpha() for c in row.text)
              and not BULLET.match(row.text)):
            row.kind, row.level = "heading", min(len(levels) + 1, 6)
        elif BULLET.match(row.text) or _NUMBERED.match(row.text):
            row.kind = "list"


def _line_pitches(rows: list[Row]) -> dict[float, float]:
    """The usual baseline-to-baseline distance per font size: the spacing of lines inside paragraphs."""
    seen: dict[float, Counter] = {}
    for prev, row in zip(rows, rows[1:]):
        pitch = row.rect.y1 - prev.rect.y1
        if prev.size == row.size and 0.8 * row.size < pitch < 3 * row.size:
            seen.setdefault(row.size, Counter())[round(pitch)] += 1
    # The tightest spacing seen twice is the in-paragraph one (gaps between paragraphs are wider).
    return {size: float(min([p for p, n in c.items() if n >= 2] or c)) for size, c in seen.items()}


def mark_paragraph_lines(rows: list[Row]) -> None:
    """Whether each row is the next line of the previous row's paragraph (``joins_prev``).

    Rows of one MuPDF block are; so are rows of different blocks (MuPDF Story writes justified lines
    apart) of the same size and weight, starting at the same edge, at the usual line spacing.
    """
    pitches = _line_pitches(rows)
    for prev, row in zip(rows, rows[1:]):
        if prev.block == row.block:
            row.joins_prev = True
            continue
        usual = pitches.get(row.size)
        edge = abs(prev.rect.x1 - row.rect.x1) if prev.rtl else abs(prev.rect.x0 - row.rect.x0)
        centred = abs((prev.rect.x0 + prev.rect.x1) - (row.rect.x0 + row.rect.x1)) / 2
        row.joins_prev = bool(usual and prev.size == row.size and prev.bold == row.bold
                              and min(edge, centred) < 2 * row.size and 0 < row.rect.y1 - prev.rect.y1 <= 1.15 * usual)


def mark_wrapped(rows: list[Row]) -> None:
    """A row continues the previous one's sentence when its first word would not have fitted on that
    line and that line is a long one (a paragraph broken by the width, not a line of an address).

    The room left is measured to the text column's edge: the farthest edge of rows that start where
    the previous row starts (its right edge for left-to-right text, left edge for right-to-left).
    """
    for prev, row in zip(rows, rows[1:]):
        if row.kind != "body" or prev.kind not in ("body", "list") or not row.joins_prev:
            continue
        first = row.text.split(" ", 1)[0]
        need = 0.5 * row.size * (len(first) + 1)
        column = [r for r in rows if abs(r.size - prev.size) <= 0.5]  # same-size text: the column's own lines
        if prev.rtl:
            edge = min(r.rect.x0 for r in column if abs(r.rect.x1 - prev.rect.x1) < 30)
            room = prev.rect.x0 - edge
        else:
            edge = max(r.rect.x1 for r in column if abs(r.rect.x0 - prev.rect.x0) < 30)
            room = edge - prev.rect.x1
        start = row.text[0]
        # Short lines (addresses, label/value pairs) are laid out line by line, not broken by the width.
        sentence_end = re.search(r"[.!?؟。:]\s*$", prev.text) is not None
        row.wrapped = (room < need and len(prev.text) >= 25 and not prev.text.endswith(":")
                       and (start.islower() or (not sentence_end and (not start.isupper() or len(prev.text) >= 50))))
