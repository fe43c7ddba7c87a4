"""Tables where the OCR layout shows one: rows of short cells, split by wide gaps, in aligned columns.

A scan has no ruling lines to read, only where words sit. Words are grouped into visual rows (across
Tesseract's blocks, which often cut a table into one block per column); a row splits into cells
where the gap between words is wide (over 1.5 word heights: word spaces are a third of that). At
least three consecutive rows of two or more cells whose cells fall into the same columns make a
table, provided its cells are short (a median of three words at most: two columns of prose are not
a table) and it has three columns, or two with figures in them (two half-lines of verse are not a
table either).
"""

from __future__ import annotations

import statistics

import pymupdf

from pipeline.teachers.tesseract.engine import OcrWord

MIN_ROWS = 3
CELL_GAP = 1.5          # word heights: a gap wider than this starts a new cell
MAX_WORDS_PER_CELL = 3  # median


def visual_rows(words: list[OcrWord]) -> list[list[int]]:
    """Word indices grouped into rows by vertical position (whatever block Tesseract put them in)."""
    order = sorted(range(len(words)), key=lambda k: words[k].top + words[k].height / 2)
    rows: list[list[int]] = []
    bottom = -1.0
    for k in order:
        w = words[k]
        centre = w.top + w.height / 2
        if rows and centre <= bottom:
            rows[-1].append(k)
            bottom = max(bottom, min(w.top + w.height, centre + w.height / 2))
        else:
            rows.append([k])
            bottom = w.top + w.height
    return [sorted(r, key=lambda k: words[k].left) for r in rows]


def split_cells(row: list[int], words: list[OcrWord]) -> list[list[int]]:
    """A row's words (left to right) split into cells at wide gaps.

    >>> W = lambda x: OcrWord("w", x, 0, 10, 10, 90, 1, 1, 1)
    >>> split_cells([0, 1, 2], [W(0), W(14), W(60)])
    [[0, 1], [2]]
    """
    height = statistics.median(words[k].height for k in row) or 1
    cells = [[row[0]]]
    for prev, k in zip(row, row[1:]):
        gap = words[k].left - (words[prev].left + words[prev].width)
        if gap > CELL_GAP * height:
            cells.append([k])
        else:
            cells[-1].append(k)
    return cells


def _span(cell: list[int], words: list[OcrWord]) -> tuple[int, int]:
    return min(words[k].left for k in cell), max(words[k].left + words[k].width for k in cell)


def _columns(rows: list[list[list[int]]], words: list[OcrWord]) -> list[tuple[int, int]]:
    """Column x-ranges: cell spans of all rows merged where they overlap."""
    spans = sorted(_span(c, words) for cells in rows for c in cells)
    merged: list[list[int]] = []
    for x0, x1 in spans:
        if merged and x0 <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], x1)
        else:
            merged.append([x0, x1])
    return [tuple(m) for m in merged]


def _table(rows: list[list[list[int]]], words: list[OcrWord], rtl: bool) -> list[list[str]] | None:
    columns = _columns(rows, words)
    if len(columns) < 2:
        return None
    sizes = [len(c) for cells in rows for c in cells]
    if statistics.median(sizes) > MAX_WORDS_PER_CELL:
        return None
    table = []
    for cells in rows:
        line = [""] * len(columns)
        for cell in cells:
            x0, x1 = _span(cell, words)
            col = next(i for i, (c0, c1) in enumerate(columns) if c0 <= x0 and x1 <= c1)
            ordered = sorted(cell, key=lambda k: -words[k].left if rtl else words[k].left)
            line[col] = (line[col] + " " + " ".join(words[k].text for k in ordered)).strip()
        table.append(line[::-1] if rtl else line)
    figures = sum(1 for j in range(len(columns))
                  if sum(any(ch.isdigit() for ch in row[j]) for row in table) * 2 >= len(table))
    if len(columns) == 2 and not figures:
        return None
    return table


def find_ocr_tables(words: list[OcrWord], rtl: bool) -> tuple[list[tuple[pymupdf.Rect, list[list[str]]]], set[int]]:
    """Tables as (rect, rows of cell texts, first column first: the rightmost on a right-to-left page)
    and the indices of the words they took."""
    if not words:
        return [], set()
    split = [split_cells(row, words) for row in visual_rows(words)]
    found: list[tuple[pymupdf.Rect, list[list[str]]]] = []
    used: set[int] = set()
    start = 0
    while start < len(split):
        end = start
        while end < len(split) and len(split[end]) >= 2:
            end += 1
        if end - start >= MIN_ROWS:
            run = split[start:end]
            table = _table(run, words, rtl)
            if table is not None:
                taken = [k for cells in run for c in cells for k in c]
                rect = pymupdf.Rect(min(words[k].left for k in taken), min(words[k].top for k in taken),
                                    max(words[k].left + words[k].width for k in taken),
                                    max(words[k].top + words[k].height for k in taken))
                found.append((rect, table))
                used.update(taken)
        start = end + 1 if end == start else end
    return found, used
