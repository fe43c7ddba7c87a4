"""Reading a page's own text layer (for anchoring prompts and checking answers' scripts).

Pages are labelled in document order, so the reader keeps the last document open.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pymupdf

from pipeline.render.pdfio import PdfOpenError, open_pdf


class PageTextReader:
    def __init__(self) -> None:
        self._doc_id: str | None = None
        self._doc: pymupdf.Document | None = None

    def text(self, doc_id: str, source: Path | None, passwords: tuple[str, ...], page_index: int) -> str | None:
        """The page's text (NFKC: Arabic presentation forms become letters), or None if unreadable."""
        if source is None:
            return None
        if doc_id != self._doc_id:
            self.close()
            try:
                self._doc = open_pdf(source, passwords)
            except PdfOpenError:
                return None
            self._doc_id = doc_id
        try:
            raw = self._doc.load_page(page_index).get_text("text", sort=True)
        except Exception:  # a page MuPDF cannot parse has no usable text; its image may still be labelled
            return None
        return unicodedata.normalize("NFKC", raw).strip()

    def close(self) -> None:
        if self._doc is not None:
            self._doc.close()
        self._doc, self._doc_id = None, None

    def __enter__(self) -> PageTextReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
