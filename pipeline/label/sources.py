"""Where each page's teacher input comes from: its rendered image, its PDF's text layer, passwords.

Also scans whole documents for the privacy gate (every page's text layer plus the file names).
Used from the label scheduler's thread only (MuPDF documents are not shared across threads).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.render.config import RenderRunConfig
from pipeline.render.discover import document_kind
from pipeline.label.pagetext import PageTextReader
from pipeline.render.pdfio import PdfOpenError, candidate_passwords, open_pdf
from pipeline.label.privacy import find_personal_data
from pipeline.label.privacy.pagewords import PageWords, ocr_page_words, text_layer_words
from pipeline.records import PageRecord
from pipeline.store import RunStore
from pipeline.teachers import PageInput

MIME_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png"}


@dataclass(frozen=True)
class DocumentSource:
    path: Path | None                      # where the PDF is now (None: moved away since rendering)
    passwords: tuple[str, ...]
    pdf_metadata: dict
    rel: str                               # the path it was first seen under (for messages)
    names: tuple[str, ...]                 # every path it was seen under (the privacy gate reads them)


class PageSources:
    """Documents' current paths and passwords (in memory only), page inputs, privacy scans.

    Built from the render config by the caller (``distill.main``), which closes it: the label
    stage gets what it reads pages with, not the render settings.
    """

    def __init__(self, run_cfg: RenderRunConfig, store: RunStore):
        self.run_cfg, self.store = run_cfg, store
        self._docs: dict[str, DocumentSource] = {}
        self.texts = PageTextReader()

    def document(self, doc_id: str) -> DocumentSource:
        if doc_id not in self._docs:
            row = self.store.get_document(doc_id)
            paths = self.store.document_paths(doc_id) or [row["path"]]
            found = next((self.run_cfg.pdf_dir / p for p in paths if (self.run_cfg.pdf_dir / p).is_file()), None)
            passwords = tuple(candidate_passwords(paths[0], self.run_cfg.passwords_by_name, self.run_cfg.passwords))
            self._docs[doc_id] = DocumentSource(found, passwords, json.loads(row["pdf_metadata"]), row["path"],
                                                tuple(paths))
        return self._docs[doc_id]

    def page_text(self, page: PageRecord, ordered: bool = True) -> str | None:
        doc = self.document(page.doc_id)
        if document_kind(doc.rel) != "pdf":
            return None   # an image document: no text layer
        return self.texts.text(page.doc_id, doc.path, doc.passwords, page.page_index, ordered)

    def page_input(self, page: PageRecord, with_anchor: bool) -> tuple[PageInput, str | None]:
        """The teacher's input for one page, and the page's text layer (for the answer checks: in
        reading order only when it also anchors the prompt)."""
        doc = self.document(page.doc_id)
        text = self.page_text(page, ordered=with_anchor)
        image = (self.run_cfg.run_dir / page.image_path).read_bytes()
        mime = MIME_TYPES[page.image_path.rsplit(".", 1)[-1].lower()]
        return PageInput(page.doc_id, page.page_index, image, mime, source=doc.path, passwords=doc.passwords,
                         pdf_metadata=doc.pdf_metadata, anchor_text=text if with_anchor else None), text

    def personal_data(self, doc_id: str) -> list[str]:
        """Kinds of personal data in a document's file names and text layer (all pages).

        A document whose PDF cannot be found or opened any more cannot be checked: it is reported
        as ``unchecked`` and held back like a flagged one. An image document has no text layer: as
        for an image-only PDF page, only its file names are checked.
        """
        doc = self.document(doc_id)
        kinds = set(find_personal_data("\n".join(Path(n).name for n in doc.names)))
        if doc.path is None:
            return sorted(kinds | {"unchecked"})
        if document_kind(doc.rel) != "pdf":
            return sorted(kinds)
        try:
            pdf = open_pdf(doc.path, doc.passwords)
        except PdfOpenError:
            return sorted(kinds | {"unchecked"})
        try:
            for index in range(pdf.page_count):
                try:
                    kinds.update(find_personal_data(pdf.load_page(index).get_text("text")))
                except Exception:  # no text to leak (a page MuPDF cannot load was not rendered either)
                    continue
        finally:
            pdf.close()
        return sorted(kinds)

    def privacy_words(self, page: PageRecord, min_text_chars: int, ocr_langs: str) -> tuple[PageWords, str]:
        """The words the privacy gate reads on one page, and why it could not read any ("": it could).

        The text layer's words where the page has one of at least ``min_text_chars`` characters;
        otherwise (a scan, an image document) local OCR of the rendered image that would be sent.
        """
        doc = self.document(page.doc_id)
        if doc.path is None:
            return PageWords("none"), "unchecked: the file moved away since rendering; put it back or rerun"
        if document_kind(doc.rel) == "pdf" and page.text_chars >= min_text_chars:
            try:
                pdf = open_pdf(doc.path, doc.passwords)
            except PdfOpenError as exc:
                return PageWords("none"), f"unchecked: the PDF cannot be opened any more ({exc})"
            try:
                return text_layer_words(pdf.load_page(page.page_index), page.width, page.height), ""
            except Exception as exc:  # a page MuPDF cannot read: say so, the policy decides
                return PageWords("none"), f"unchecked: its text layer cannot be read ({type(exc).__name__})"
            finally:
                pdf.close()
        from pipeline.teachers import TeacherConfigError

        image = self.page_image(page)
        try:
            return ocr_page_words(image, page.width, page.height, ocr_langs), ""
        except TeacherConfigError as exc:
            return PageWords("none"), (f"unverified: a scan and no OCR to read it ({exc}); install Tesseract, or "
                                       "allow unverified pages with a --privacy-policy saying 'unverified: allow'")
        except RuntimeError as exc:
            return PageWords("none"), f"unverified: OCR failed on this scan ({exc})"

    _real_privacy_words = privacy_words      # the method itself (tests replace privacy_words around it)

    def page_image(self, page: PageRecord) -> bytes:
        return (self.run_cfg.run_dir / page.image_path).read_bytes()

    def close(self) -> None:
        self.texts.close()

    def __enter__(self) -> PageSources:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
