"""What one page looks like to the rules: lines (``Unit``), rows (``Row``), things placed by position
(``Float``) and everything both tasks need from a page (``PageFacts``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pymupdf


@dataclass
class Unit:
    """One MuPDF line: its clusters (for bidi), its place in the frame and its style."""

    clusters: list
    rect: pymupdf.Rect
    spans: list
    block: int
    order: int
    dir: tuple
    text: str = ""            # cleaned text of this line alone
    raw: str = ""             # logical text before cleaning (for the garbage check)
    rtl: bool = False
    lost: int = 0             # glyphs without a Unicode mapping
    field: str = ""           # "form_field" / "checkbox" when a form value or tick box was attached
    color: tuple = (0.0, 0.0, 0.0)


@dataclass
class Row:
    """One visual line of text in logical order, with its place in the reading frame."""

    text: str
    rect: pymupdf.Rect
    size: float
    bold: bool
    block: int                # MuPDF block of its first piece
    order: int                # content-stream order
    rtl: bool
    color: tuple = (0.0, 0.0, 0.0)
    pieces: int = 1           # lines joined into this row
    kind: str = "body"        # body | heading | list | header | footer | page_number | form_field | checkbox
    field: str = ""           # form_field / checkbox when a widget value or tick box is attached
    level: int | None = None
    joins_prev: bool = False  # the next line of the previous row's paragraph
    wrapped: bool = False     # continues the previous row's sentence (line broken by the page width)


@dataclass
class Float:
    """Something placed by position rather than by text flow: a table, form field, stamp or signature."""

    kind: str
    rect: pymupdf.Rect
    markdown: str
    text: str | None


@dataclass
class PageFacts:
    """Everything the two tasks need, computed once per page."""

    rows: list[Row] = field(default_factory=list)
    floats: list[Float] = field(default_factory=list)
    frame: pymupdf.Rect = field(default_factory=lambda: pymupdf.Rect(0, 0, 1, 1))
    body_size: float = 10.0
    tables: list[list[list[str]]] = field(default_factory=list)
    stamps: list[tuple[str, str]] = field(default_factory=list)          # (text, colour name)
    signatures: list[tuple[Row, bool]] = field(default_factory=list)     # (label row, ink found)
    image_cover: float = 0.0
    color_mode: str = "black_and_white"
    no_text: str | None = None            # why the page cannot be labelled from its text layer
    all_text: str = ""
