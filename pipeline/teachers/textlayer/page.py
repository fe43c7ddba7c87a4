"""Reading one page once for both tasks (``read_page``), or saying why its text layer cannot be used."""

from __future__ import annotations

import pymupdf

from pipeline.teachers.textlayer.flow import short_text
from pipeline.teachers.textlayer.forms import mark_checkboxes, widget_floats
from pipeline.teachers.textlayer.glyphs import glyph_name_repairs
from pipeline.teachers.textlayer.layout import (BAND, body_size, line_units, merge_single_line_blocks, reading_frame,
                                                rows_from_units)
from pipeline.teachers.textlayer.marks import find_signatures, ink_paths, page_color_mode, take_stamps
from pipeline.teachers.textlayer.normalize import clean_text, meaningful_chars, suspicious_share
from pipeline.teachers.textlayer.parts import Float, PageFacts
from pipeline.teachers.textlayer.rows import classify_rows, digits_masked, mark_paragraph_lines, mark_wrapped
from pipeline.teachers.textlayer.tables import fill_table, find_tables, is_degenerate, table_markdown

# No "CID as Unicode" fallback: an unmapped glyph must read U+FFFD, not a random letter.
_TEXT_FLAGS = (pymupdf.TEXTFLAGS_RAWDICT & ~pymupdf.TEXT_CID_FOR_UNKNOWN_UNICODE) | pymupdf.TEXT_MEDIABOX_CLIP
MIN_TEXT_CHARS = 20          # letters + digits below which an image-covered page counts as a scan
MAX_SUSPICIOUS = 0.15        # share of broken-encoding characters above which the text layer is unreadable


def read_page(page: pymupdf.Page, neighbours: tuple[pymupdf.Page, ...] = (),
              running: set[str] | None = None) -> PageFacts:
    """Analyse one page once for both tasks (see the package docstring).

    ``neighbours`` (the pages before and after) tell running headers and footers from a letterhead:
    a line repeated in the same band there is a running one. ``running``: those lines already read
    (``band_lines`` of each neighbour), instead of ``neighbours``.
    """
    facts = PageFacts()
    data = page.get_text("rawdict", flags=_TEXT_FLAGS)
    blocks = [b for b in data["blocks"] if b.get("type") == 0 and b.get("lines")]
    lines = [line for b in blocks for line in b["lines"]]
    matrix, facts.frame = reading_frame(page, lines)
    has_unmapped = any(c["c"] == "\ufffd" for line in lines for s in line["spans"] for c in s["chars"])
    repairs = glyph_name_repairs(page) if has_unmapped else {}
    units = line_units(blocks, matrix, repairs)
    images = page.get_image_info()
    area = abs(page.rect) or 1
    facts.image_cover = min(1.0, sum(abs(pymupdf.Rect(im["bbox"]) & page.rect) for im in images) / area)
    facts.all_text = "\n".join(u.text for u in units if u.text)
    facts.no_text = _no_text_reason(facts.all_text, "\n".join(u.raw for u in units), facts.image_cover,
                                    sum(u.lost for u in units))
    if facts.no_text:
        return facts
    drawings = page.get_drawings()
    units, stamp_floats, facts.stamps = take_stamps(units, drawings, matrix)
    floats: list[Float] = list(stamp_floats)
    mark_checkboxes(units, drawings, matrix)
    floats += widget_floats(page, units, matrix, facts.frame)
    for rect, grid in find_tables(page, drawings, matrix):
        table, used = fill_table(grid, units)
        if is_degenerate(table):
            continue
        units = [u for u in units if u.order not in used]
        facts.tables.append(table)
        floats.append(Float("table", rect, table_markdown(table), short_text(" | ".join(c for c in table[0] if c))))
    rows = merge_single_line_blocks(rows_from_units(units, facts.frame), facts.frame)
    facts.body_size = body_size(rows)
    facts.signatures, sig_floats = find_signatures(rows, ink_paths(drawings, matrix))
    floats += sig_floats
    if running is None:
        running = set().union(*(band_lines(other) for other in neighbours))
    classify_rows(rows, facts.frame, facts.body_size, running)
    mark_paragraph_lines(rows)
    mark_wrapped(rows)
    facts.rows, facts.floats = rows, floats
    facts.color_mode = page_color_mode(page, drawings, rows, images)
    return facts


def band_lines(page: pymupdf.Page) -> set[str]:
    """Lines in the top/bottom band of a page (digits masked): running-header evidence for its neighbours."""
    out: set[str] = set()
    r = page.rect
    for band in (pymupdf.Rect(r.x0, r.y0, r.x1, r.y0 + (BAND + 0.03) * r.height),
                 pymupdf.Rect(r.x0, r.y1 - (BAND + 0.03) * r.height, r.x1, r.y1)):
        try:
            text = page.get_text("text", clip=band)
        except Exception:  # a neighbour that cannot be read just gives no evidence
            continue
        out.update(digits_masked(clean_text(line)) for line in text.splitlines() if line.strip())
    return out


def _no_text_reason(text: str, raw: str, image_cover: float, lost: int = 0) -> str | None:
    """Why the page cannot be labelled from its text layer, or None when it can."""
    meaningful = meaningful_chars(text)
    nonspace = sum(1 for c in raw if not c.isspace())
    share = (suspicious_share(raw) * nonspace + lost) / max(1, nonspace + lost)
    if meaningful == 0 and lost:
        return ("text layer is unreadable: its fonts have no Unicode mapping; use an API teacher to label it")
    if meaningful == 0:
        return ("page has no text layer (image-only scan or blank page); use an API teacher to label it")
    if meaningful < MIN_TEXT_CHARS and image_cover >= 0.5:
        return (f"page is an image with only {meaningful} characters of text (a scan with a partial text "
                "layer); use an API teacher to label it")
    if share > MAX_SUSPICIOUS:
        return (f"text layer is unreadable: {share:.0%} of its characters come from fonts without a usable "
                "Unicode mapping; use an API teacher to label it")
    return None
