"""OCR words -> the rows a page's labels are built from, as the textlayer teacher's rules expect them.

Tesseract gives words in reading order inside each line (right to left in an Arabic line) with
block / paragraph / line numbers. Lines become ``Row``s in pixel coordinates, with a font size
read from their height; blocks are put in reading order (top to bottom, columns right to left on
a right-to-left page); tables come from ``tables``. The textlayer teacher's own rules then find
headings, lists, running headers and paragraphs, so one set of rules labels both.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict

import pymupdf

from pipeline.teachers.textlayer.flow import short_text
from pipeline.teachers.textlayer.language import text_direction
from pipeline.teachers.textlayer.layout import body_size
from pipeline.teachers.textlayer.normalize import clean_text
from pipeline.teachers.textlayer.parts import Float, PageFacts, Row
from pipeline.teachers.textlayer.rows import classify_rows, mark_paragraph_lines, mark_wrapped
from pipeline.teachers.textlayer.tables import table_markdown
from pipeline.teachers.tesseract.engine import OcrPage, OcrWord
from pipeline.teachers.tesseract.tables import find_ocr_tables

# OCR word heights are noisy (dots and marks above and below Arabic letters, lines merged): a line
# counts as set larger than the body only when it is a paragraph of its own, short, and clearly taller.
LARGER = 1.3
HEADING_WORDS = 8


def _rect(words: list[OcrWord]) -> pymupdf.Rect:
    return pymupdf.Rect(min(w.left for w in words), min(w.top for w in words),
                        max(w.left + w.width for w in words), max(w.top + w.height for w in words))


def _line_size(words: list[OcrWord]) -> float:
    return float(statistics.median(w.height for w in words))


def size_class(height: float, usual: float, alone: bool, words: int) -> float:
    """A line's size: its own height (rounded) for a short line alone in its paragraph and clearly taller
    than the page's usual line, else the usual size.

    >>> size_class(31, 20, True, 3), size_class(31, 20, False, 3), size_class(23, 20, True, 3), size_class(31, 20, True, 12)
    (31, 20, 20, 20)
    """
    return round(height) if alone and words <= HEADING_WORDS and height >= LARGER * usual else usual


def reading_order(blocks: dict[int, pymupdf.Rect], rtl: bool) -> list[int]:
    """Blocks top to bottom; blocks side by side (overlapping vertically) by column, right to left on a
    right-to-left page.

    >>> R = pymupdf.Rect
    >>> reading_order({1: R(0, 0, 40, 100), 2: R(60, 0, 100, 100), 3: R(0, 120, 100, 140)}, rtl=True)
    [2, 1, 3]
    >>> reading_order({1: R(0, 0, 40, 100), 2: R(60, 0, 100, 100)}, rtl=False)
    [1, 2]
    """
    bands: list[list[int]] = []
    band_rect: list[pymupdf.Rect] = []
    for key in sorted(blocks, key=lambda k: blocks[k].y0):
        r = blocks[key]
        if band_rect and min(r.y1, band_rect[-1].y1) - max(r.y0, band_rect[-1].y0) > 0.3 * min(r.height,
                                                                                          band_rect[-1].height):
            bands[-1].append(key)
            band_rect[-1] |= r
        else:
            bands.append([key])
            band_rect.append(pymupdf.Rect(r))
    out: list[int] = []
    for band, rect in zip(bands, band_rect):
        width = rect.width or 1
        column = (lambda k: -round(blocks[k].x1 / width * 8)) if rtl else (lambda k: round(blocks[k].x0 / width * 8))
        out += sorted(band, key=lambda k: (column(k), blocks[k].y0))
    return out


def ocr_facts(page: OcrPage) -> PageFacts:
    """PageFacts from an OCR'd page: rows, tables as floats, sizes in pixels; the frame is the image."""
    facts = PageFacts(frame=pymupdf.Rect(0, 0, page.width, page.height), image_cover=1.0)
    words = list(page.words)
    facts.all_text = " ".join(w.text for w in words)
    if not any(c.isalnum() for c in facts.all_text):
        facts.no_text = "OCR found no text on the page (blank, or writing Tesseract cannot read)"
        return facts
    rtl_page = text_direction(facts.all_text) == "rtl"
    tables, used = find_ocr_tables(words, rtl_page)
    for rect, cells in tables:
        facts.tables.append(cells)
        facts.floats.append(Float("table", rect, table_markdown(cells), short_text(" | ".join(c for c in cells[0] if c))))
    words = [w for k, w in enumerate(words) if k not in used]
    lines: dict[tuple, list[OcrWord]] = defaultdict(list)
    for w in words:
        lines[(w.block, w.par, w.line)].append(w)
    if not lines:
        facts.body_size = 10.0
        return facts
    usual = statistics.median(_line_size(ws) for ws in lines.values())
    block_rects: dict[int, pymupdf.Rect] = {}
    for (block, _, _), ws in lines.items():
        block_rects[block] = block_rects[block] | _rect(ws) if block in block_rects else _rect(ws)
    rank = {block: i for i, block in enumerate(reading_order(block_rects, rtl_page))}
    per_par = Counter((block, par) for block, par, _ in lines)
    rows: list[Row] = []
    for (block, par, _), ws in sorted(lines.items(), key=lambda item: (rank[item[0][0]], item[0][1], item[0][2])):
        text = clean_text(" ".join(w.text for w in ws))
        if not text:
            continue
        size = size_class(_line_size(ws), usual, per_par[(block, par)] == 1, len(ws))
        rows.append(Row(text, _rect(ws), size, False, block * 1000 + par, len(rows), text_direction(text) == "rtl"))
    facts.body_size = body_size(rows)
    classify_rows(rows, facts.frame, facts.body_size)
    mark_paragraph_lines(rows)
    mark_wrapped(rows)
    facts.rows = rows
    return facts
