"""Lines -> rows in a reading frame: the page turned so that its main text runs left to right.

The frame also gives the orientation "as the content reads". Lines on one baseline are joined into
rows (a form's label and its boxed value, an invoice's "Invoice No.:" and the number), except page
numbers in the top/bottom band, where running headers and footers sit.
"""

from __future__ import annotations

import re
from collections import Counter

import pymupdf

from pipeline.scripts import char_script
from pipeline.teachers.textlayer.glyphs import line_clusters, logical_text
from pipeline.teachers.textlayer.language import is_cjk, is_rtl_char
from pipeline.teachers.textlayer.normalize import clean_text
from pipeline.teachers.textlayer.parts import Row, Unit

BAND = 0.075                 # top/bottom share of the page where running headers, footers, page numbers sit
MAX_GAP = 0.25               # lines on one baseline farther apart than this share of the width stay apart
_BOLD_NAME = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
_PAGE_NUMBER_RE = re.compile(
    r"^\s*(?:(?:page|p\.|pg\.?|seite|página|صفحة|الصفحة)\s*)?[-–—(\[]?\s*(\d{1,4}|[٠-٩]{1,4}|[ivxlc]{1,6})\s*[-–—)\]]?"
    r"\s*(?:(?:of|/|من|sur|von)\s*(?:\d{1,4}|[٠-٩]{1,4}))?\s*$", re.IGNORECASE)


def page_number_of(row: str) -> str | None:
    """The page number when a whole line is one ("3", "- 3 -", "Page 3 of 9", "صفحة ٣"), else None.

    >>> page_number_of("Page 1 of 3"), page_number_of("- 12 -"), page_number_of("2022 budget")
    ('1', '12', None)
    """
    m = _PAGE_NUMBER_RE.match(row)
    return m.group(1) if m else None


def reading_frame(page: pymupdf.Page, lines: list[dict]) -> tuple[pymupdf.Matrix, pymupdf.Rect]:
    """Matrix from page coordinates to a frame where the main text runs left to right, and the page there."""
    weight: Counter = Counter()
    cjk = 0
    for line in lines:
        n = sum(len(s["chars"]) for s in line["spans"])
        weight[(round(line["dir"][0]), round(line["dir"][1]))] += n
        cjk += sum(1 for s in line["spans"] for c in s["chars"] if char_script(c["c"]) in ("Han", "Kana"))
    unrotated = (page.rect * page.derotation_matrix).normalize()
    main = weight.most_common(1)[0][0] if weight else (1, 0)
    if cjk > sum(weight.values()) / 2 and main in ((0, 1), (0, -1)):
        rot = page.rotation_matrix  # vertical CJK: the page as displayed is the reading frame
    else:
        rot = next((pymupdf.Matrix(a) for a in (0, 90, 180, 270)
                    if abs((pymupdf.Point(main) * pymupdf.Matrix(a)).x - 1) < 0.1), pymupdf.Matrix(1, 1))
        rot = pymupdf.Matrix(rot.a, rot.b, rot.c, rot.d, 0, 0)
    turned = unrotated * rot
    matrix = rot * pymupdf.Matrix(1, 0, 0, 1, -turned.x0, -turned.y0)
    return matrix, unrotated * matrix


def _span_style(spans: list[dict]) -> tuple[float, bool, tuple]:
    sizes: Counter = Counter()
    bold = total = 0
    colors: Counter = Counter()
    for s in spans:
        n = max(1, len(s["chars"]))
        sizes[round(s["size"] * 2) / 2] += n
        colors[s["color"]] += n
        bold += n if (s["flags"] & 16 or _BOLD_NAME.search(s["font"])) else 0
        total += n
    srgb = colors.most_common(1)[0][0] if colors else 0
    rgb = tuple(v / 255 for v in pymupdf.sRGB_to_rgb(srgb))
    return (sizes.most_common(1)[0][0] if sizes else 10.0), bold * 2 > total, rgb


def line_units(blocks: list[dict], matrix: pymupdf.Matrix, repairs: dict) -> list[Unit]:
    """One ``Unit`` per MuPDF line, in content-stream order, placed in the reading frame."""
    units: list[Unit] = []
    for bno, block in enumerate(blocks):
        for line in block["lines"]:
            clusters, lost = line_clusters(line, repairs)
            raw, rtl = logical_text(clusters)
            unit = Unit(clusters, pymupdf.Rect(line["bbox"]) * matrix, line["spans"], bno, len(units),
                        tuple(line["dir"]), clean_text(raw), raw, rtl, lost)
            unit.color = _span_style(line["spans"])[2]
            units.append(unit)
    return units


def _compose(units: list[Unit]) -> tuple[str, bool]:
    """Text of several lines on one baseline, in logical order; a space only where there is a gap."""
    if len(units) == 1:
        return units[0].text, units[0].rtl
    units = sorted(units, key=lambda u: u.rect.x0)
    gaps = [b.rect.x0 - a.rect.x1 > 0.15 * max(a.rect.height, 1) for a, b in zip(units, units[1:])] + [False]
    raws = [u.raw for u in units]
    for k, (a, b) in enumerate(zip(raws, raws[1:])):  # CJK is written without spaces
        if a.strip() and b.strip() and is_cjk(a.strip()[-1]) and is_cjk(b.strip()[0]):
            gaps[k], raws[k], raws[k + 1] = False, a.rstrip(), b.lstrip()
    if not any(u.rtl or any(is_rtl_char(c[1][0]) for c in u.clusters) for u in units):
        return clean_text("".join(raw + (" " if gap else "") for raw, gap in zip(raws, gaps))), False
    clusters = []
    for u, gap in zip(units, gaps):
        if u.clusters:
            clusters += u.clusters
            if gap:  # a space in the gap, just past this line's right end
                clusters.append((max(c[0] for c in u.clusters) + 0.01, " ", 10 ** 6))
    raw, rtl = logical_text(clusters)
    return clean_text(raw), rtl


def rows_from_units(units: list[Unit], frame: pymupdf.Rect | None = None) -> list[Row]:
    """Lines of one block on one baseline joined into rows, unless far apart (a quarter of the width)
    or one of them is a page number in the top/bottom band."""
    max_gap = MAX_GAP * frame.width if frame else 1e9
    groups: list[list[Unit]] = []
    for u in units:
        last = groups[-1][-1] if groups else None
        if last is not None and u.block == last.block and u.dir == last.dir and _same_baseline(last.rect, u.rect) \
                and _gap(last.rect, u.rect) < max_gap and not (
                    frame and in_band(u.rect, frame) and (page_number_of(u.text) or page_number_of(last.text))):
            groups[-1].append(u)
        else:
            groups.append([u])
    rows = []
    for group in groups:
        text, rtl = _compose(group)
        if not text:
            continue
        size, bold, color = _span_style([s for u in group for s in u.spans])
        rect = pymupdf.Rect(group[0].rect)
        for u in group[1:]:
            rect |= u.rect
        field_kind = "form_field" if any(u.field == "form_field" for u in group) else \
            next((u.field for u in group if u.field), "")
        rows.append(Row(text, rect, size, bold, group[0].block, group[0].order, rtl, color, pieces=len(group),
                        field=field_kind))
    return rows


def in_band(r: pymupdf.Rect, frame: pymupdf.Rect) -> bool:
    """In the top or bottom band where running headers, footers and page numbers sit."""
    h = frame.height or 1
    return r.y1 / h < BAND + 0.03 or r.y0 / h > 1 - BAND - 0.03


def _same_baseline(a: pymupdf.Rect, b: pymupdf.Rect) -> bool:
    overlap = min(a.y1, b.y1) - max(a.y0, b.y0)
    return overlap > 0.5 * min(a.height, b.height) and abs(a.y1 - b.y1) < 0.4 * max(a.height, b.height, 1)


def merge_single_line_blocks(rows: list[Row], frame: pymupdf.Rect) -> list[Row]:
    """Join rows that sit alone in their block and share a baseline: a form label and its value.

    Rows of multi-line blocks are never joined (two columns of a paper share baselines too), nor are
    rows far apart (a quarter of the page width) or of clearly different sizes, nor page numbers.
    """
    per_block = Counter(r.block for r in rows)
    out: list[Row] = []
    for row in sorted(rows, key=lambda r: r.order):
        mate = None
        if per_block[row.block] == 1 and not (in_band(row.rect, frame) and page_number_of(row.text)):
            for cand in reversed(out[-8:]):
                if (cand.kind == "single" and _same_baseline(cand.rect, row.rect)
                        and max(cand.size, row.size) < 1.3 * min(cand.size, row.size)
                        and _gap(cand.rect, row.rect) < MAX_GAP * frame.width):
                    mate = cand
                    break
        if mate is None:  # "single" marks rows that may take a mate (kind is set for real later)
            row.kind = "single" if per_block[row.block] == 1 and not (
                in_band(row.rect, frame) and page_number_of(row.text)) else "body"
            out.append(row)
            continue
        rtl = mate.rtl or row.rtl
        left, right = (mate, row) if mate.rect.x0 <= row.rect.x0 else (row, mate)
        first, second = (right, left) if rtl else (left, right)
        cjk = is_cjk(first.text[-1]) and is_cjk(second.text[0])
        mate.text = f"{first.text}{'' if cjk else ' '}{second.text}"
        mate.rect |= row.rect
        mate.pieces += row.pieces
        mate.bold = mate.bold and row.bold
        mate.rtl = rtl
        mate.field = "form_field" if "form_field" in (mate.field, row.field) else (mate.field or row.field)
    for row in out:
        row.kind = "body"
    return out


def _gap(a: pymupdf.Rect, b: pymupdf.Rect) -> float:
    return max(0.0, max(a.x0, b.x0) - min(a.x1, b.x1))


def center_in(r: pymupdf.Rect, cell: pymupdf.Rect) -> bool:
    """Whether the centre of ``r`` lies in ``cell`` (with 1 pt of slack)."""
    cx, cy = (r.x0 + r.x1) / 2, (r.y0 + r.y1) / 2
    return cell.x0 - 1 <= cx <= cell.x1 + 1 and cell.y0 - 1 <= cy <= cell.y1 + 1


def body_size(rows: list[Row]) -> float:
    """The font size most of the page's characters are set in."""
    sizes: Counter = Counter()
    for r in rows:
        sizes[r.size] += len(r.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0
