"""Reading a page's own text layer (for anchoring prompts and checking answers' scripts).

Pages are labelled in document order, so the reader keeps the last document open, and each task of
a page asks for the same text, so the last page's text is kept too. Reading order costs: MuPDF's
``sort=True`` is a Python word sort (0.1 s on a dense page, more than labelling it with the
textlayer teacher, measured), so it is done only for a prompt anchor; the script check counts
letters and needs no order.
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
        self._last: tuple | None = None       # (doc_id, page_index, ordered) of the text below
        self._last_text: str | None = None

    def text(self, doc_id: str, source: Path | None, passwords: tuple[str, ...], page_index: int,
             ordered: bool = True) -> str | None:
        """The page's text (NFKC: Arabic presentation forms become letters), or None if unreadable.

        ``ordered``: in reading order (for a prompt); otherwise in content-stream order, the same
        letters at a fraction of the cost.
        """
        if source is None:
            return None
        key = (doc_id, page_index, ordered)
        if key == self._last:
            return self._last_text
        if doc_id != self._doc_id:
            self.close()
            try:
                self._doc = open_pdf(source, passwords)
            except PdfOpenError:
                return None
            self._doc_id = doc_id
        try:
            raw = self._doc.load_page(page_index).get_text("text", sort=ordered)
        except Exception:  # a page MuPDF cannot parse has no usable text; its image may still be labelled
            raw = None
        self._last = key
        self._last_text = None if raw is None else unicodedata.normalize("NFKC", raw).strip()
        return self._last_text

    def close(self) -> None:
        if self._doc is not None:
            self._doc.close()
        self._doc, self._doc_id = None, None
        self._last = self._last_text = None

    def __enter__(self) -> PageTextReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
