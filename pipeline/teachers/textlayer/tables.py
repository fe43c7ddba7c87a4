"""Ruled tables: found where the page has ruling lines, filled from the page's own lines.

``find_tables`` costs 100-400 ms even on a page without any table (it builds Python objects per
character), so it runs only when the page has ruling lines, clipped to where they are, and on an
unrotated page it is handed the drawings the page has already read (as copies: its edge builder
edits them), instead of walking the content stream again (~30 ms on a dense form, measured).
"""

from __future__ import annotations

import pymupdf

from pipeline.teachers.textlayer.language import text_direction
from pipeline.teachers.textlayer.layout import center_in, rows_from_units
from pipeline.teachers.textlayer.parts import Unit


def _ruling_edges(drawings: list[dict]) -> tuple[int, int, pymupdf.Rect]:
    """Horizontal and vertical ruling segments (lines and rectangle sides) on the page, and where they are."""
    horizontal = vertical = 0
    where = pymupdf.Rect()
    for d in drawings:
        before = horizontal + vertical
        for item in d["items"]:
            if item[0] == "l":
                p, q = item[1], item[2]
                horizontal += abs(p.y - q.y) < 1 and abs(p.x - q.x) > 10
                vertical += abs(p.x - q.x) < 1 and abs(p.y - q.y) > 10
            elif item[0] == "re":
                r = item[1]
                if r.height < 2 and r.width > 10:
                    horizontal += 1
                elif r.width < 2 and r.height > 10:
                    vertical += 1
                elif r.width > 10 and r.height > 10:
                    horizontal += 2
                    vertical += 2
        if horizontal + vertical > before:
            where |= d["rect"] + (-1, -1, 1, 1)  # a ruling line's rect is empty: give it some body
    return horizontal, vertical, where


def find_tables(page: pymupdf.Page, drawings: list[dict], to_frame: pymupdf.Matrix) -> list[tuple[pymupdf.Rect, list]]:
    """Ruled tables as (frame rect, rows of frame cell rects or None); none without ruling lines."""
    horizontal, vertical, where = _ruling_edges(drawings)
    if horizontal < 3 or vertical < 2:
        return []
    try:  # clipped to the ruled area: the finder's cost grows with the characters it looks at
        if page.rotation == 0:
            found = page.find_tables(clip=(where + (-3, -3, 3, 3)) & page.cropbox, use_layout=False,
                                     paths=_edge_copies(drawings)).tables
        else:  # the finder turns the page upright first: the drawings read here do not apply
            found = page.find_tables(use_layout=False).tables
    except Exception:  # table finding is best effort: the text still flows as paragraphs
        return []
    display_to_frame = page.derotation_matrix * to_frame
    out: list[tuple[pymupdf.Rect, list]] = []
    for t in found:
        if t.row_count < 2 or t.col_count < 2:
            continue
        rect = pymupdf.Rect(t.bbox) * display_to_frame
        if any(rect in other for other, _ in out):
            continue
        grid = [[(pymupdf.Rect(c) * display_to_frame) if c else None for c in row.cells] for row in t.rows]
        out.append((rect, grid))
    return out


def _edge_copies(drawings: list[dict]) -> list[dict]:
    """Copies of the drawings with the parts ``find_tables`` changes in place (as it copies its own)."""
    return [dict(d, rect=pymupdf.Rect(d["rect"]),
                 items=[(it[0], pymupdf.Rect(it[1]), *it[2:]) if it[0] == "re" else it for it in d["items"]])
            for d in drawings]


def fill_table(grid: list, units: list[Unit]) -> tuple[list[list[str]], set[int]]:
    """Cell texts from the lines whose centre lies in each cell; returns the cells and the lines used."""
    used: set[int] = set()
    table: list[list[str]] = []
    for grid_row in grid:
        cells = []
        for cell in grid_row:
            if cell is None:
                cells.append("")
                continue
            inside = [u for u in units if u.order not in used and center_in(u.rect, cell)]
            used.update(u.order for u in inside)
            cells.append(" ".join(r.text for r in sorted(rows_from_units(inside), key=lambda r: (r.rect.y0, r.order))))
        table.append(cells)
    table = [r for r in table if any(c.strip() for c in r)]
    if table and text_direction(" ".join(" ".join(r) for r in table)) == "rtl":
        table = [r[::-1] for r in table]  # right-to-left tables: first column is the rightmost
    return table, used


def is_degenerate(table: list[list[str]]) -> bool:
    """A 'table' whose text sits mostly in one cell: its grid came from a frame, not from cell rules."""
    sizes = [len(c) for r in table for c in r]
    filled = sum(1 for n in sizes if n)
    return not table or filled < 2 or sum(n for n in sizes if n > 150) > 0.5 * sum(sizes)


def table_markdown(table: list[list[str]]) -> str:
    """A Markdown table, first row as the header.

    >>> print(table_markdown([["Item", "Qty"], ["Tea | green", "2"]]))
    | Item | Qty |
    | --- | --- |
    | Tea \\| green | 2 |
    """
    width = max(len(r) for r in table)
    cells = [[c.replace("|", "\\|").replace("\n", "<br>") for c in r] + [""] * (width - len(r)) for r in table]
    lines = ["| " + " | ".join(cells[0]) + " |", "| " + " | ".join(["---"] * width) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in cells[1:]]
    return "\n".join(lines)
