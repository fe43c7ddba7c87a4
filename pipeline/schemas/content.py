"""The ``content`` task: what is on the page, as markdown, plus its structural elements.

Field order matters: models write fields in schema order, so the short "preparatory" fields
(languages, direction, what kinds of elements exist) come before the long markdown and prime it.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict, Field


class ElementKind(str, Enum):
    HEADING = "heading"
    PARAGRAPH = "paragraph"
    LIST = "list"
    TABLE = "table"
    FIGURE = "figure"
    CAPTION = "caption"
    HEADER = "header"
    FOOTER = "footer"
    PAGE_NUMBER = "page_number"
    STAMP = "stamp"
    SEAL = "seal"
    SIGNATURE = "signature"
    HANDWRITING = "handwriting"
    FORM_FIELD = "form_field"
    CHECKBOX = "checkbox"
    LOGO = "logo"
    BARCODE = "barcode"
    OTHER = "other"


class Direction(str, Enum):
    LTR = "ltr"
    RTL = "rtl"
    MIXED = "mixed"


class Element(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ElementKind
    text: str | None = Field(
        None, description="Short text of the element as printed: a heading, a field label and its value, "
                          "the words of a stamp, a signer's name. Null for elements without text.")
    level: int | None = Field(None, description="Heading level 1-6; null for other kinds.")


class ContentLabel(BaseModel):
    """The page as a reader sees it."""

    model_config = ConfigDict(extra="forbid")

    languages: list[str] = Field(
        description="ISO 639-1 codes of the languages written on the page, main language first, e.g. [\"ar\", \"en\"].")
    direction: Direction = Field(description="Main reading direction of the page's text.")
    page_number: str | None = Field(None, description="The page number printed on the page, as printed; null if none.")
    has_tables: bool = Field(description="True if the page contains at least one table.")
    has_handwriting: bool = Field(description="True if any handwriting (including signatures) is visible.")
    elements: list[Element] = Field(
        description="Structural elements in reading order: headings, paragraphs, lists, tables, figures, "
                    "headers/footers, page number, stamps, seals, signatures, handwriting, form fields.")
    markdown: str = Field(
        description="The full text of the page in reading order as Markdown: # headings, lists, tables as "
                    "Markdown tables (HTML for merged cells). Transcribe, never translate or summarise.")
