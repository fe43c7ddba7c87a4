"""The offline teacher itself: pages in, ``content`` and ``metadata`` labels (or NO_TEXT_LAYER) out."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf

from pipeline.render.discover import document_kind
from pipeline.render.pdfio import PdfOpenError, open_pdf
from pipeline.tasks import Task
from pipeline.teachers.base import PageInput, Reply, ReplyStatus, Teacher, TeacherConfigError, register
from pipeline.teachers.textlayer.content import content_label
from pipeline.teachers.textlayer.metadata import metadata_label
from pipeline.teachers.textlayer.ocr_fallback import OcrFallback
from pipeline.teachers.textlayer.page import band_lines, read_page
from pipeline.teachers.textlayer.parts import PageFacts

SUPPORTED_TASKS = ("content", "metadata")


@register
class TextLayerTeacher(Teacher):
    """Labels content and metadata from the PDF's own text layer (OCR for pages without one, see
    ``ocr_fallback``); no network, no key."""

    name = "textlayer"
    default_model = "pymupdf-textlayer-1"   # version of these extraction rules: part of each label's identity
    api_key_env = ()
    is_cloud = False
    priced = False          # no tokens, no bill: no price table, no --max-cost
    thread_safe = False     # MuPDF is not thread-safe (and the work is CPU-bound anyway): one page at a time

    def __init__(self, settings):
        super().__init__(settings)
        self.ocr = OcrFallback(settings.ocr_fallback, settings.ocr_lang)
        self._doc: pymupdf.Document | None = None
        self._doc_id: str | None = None
        self._facts_key: tuple | None = None
        self._facts: PageFacts | None = None
        self._bands: dict[int, set[str]] = {}   # page index -> band_lines, for the open document

    def check_tasks(self, tasks: list[Task]) -> None:
        for task in tasks:
            if task.name not in SUPPORTED_TASKS:
                raise TeacherConfigError(f"the textlayer teacher can only label content and metadata; "
                                         f"use an API teacher for task {task.name}")

    def generation_params(self) -> dict:
        # No sampling: the answer depends only on the PDF, the rules' version (the model name) and
        # the OCR used for pages without a text layer, if any.
        return self.ocr.params()

    def image_rule(self) -> str:
        return "offline, free"

    def ask(self, page: PageInput, task: Task, prompt: str, temperature: float | None = None) -> Reply:
        self.check_tasks([task])
        kind = document_kind(Path(page.source).name) if page.source is not None else "pdf"
        if kind != "pdf":
            return self.ocr.reply(page, task, f"an image document ({kind}) has no text layer")
        try:
            doc = self._source(page)
        except ValueError as exc:
            # The PDF moved away or no longer opens (a password changed): the user can fix that, so
            # this stays transient and a rerun tries again.
            return Reply(status=ReplyStatus.SERVER_ERROR, detail=f"text layer cannot be read: {exc}")
        try:
            facts = self._page_facts(page, doc)
        except Exception as exc:  # noqa: BLE001 - a per-page failure must come back as a Reply
            # MuPDF fails on this page itself (a cycle in the page tree, a broken content stream):
            # the same bytes fail the same way, so it is recorded once and not retried.
            return Reply(status=ReplyStatus.UNREADABLE_PAGE, detail=f"text layer cannot be read: {exc}")
        if facts.no_text:
            return self.ocr.reply(page, task, facts.no_text)
        try:
            if task.name == "content":
                label = content_label(facts)
            else:
                label = metadata_label(facts, page.pdf_metadata or {})
            data = task.model.model_validate(label.model_dump(mode="json")).model_dump(mode="json")
        except Exception as exc:  # noqa: BLE001 - same reasoning as above: these rules fail on this page
            return Reply(status=ReplyStatus.UNREADABLE_PAGE, detail=f"{task.name} label cannot be built: {exc}")
        return Reply(status=ReplyStatus.COMPLETE, text=json.dumps(data, ensure_ascii=False), data=data,
                     finish_reason="STOP", tokens_in=0, tokens_out=0)

    def _source(self, page: PageInput) -> pymupdf.Document:
        if page.source is None:
            raise ValueError("the source PDF is not in the input folder any more (moved or deleted since "
                             "rendering); put it back and rerun")
        return self._document(page.doc_id, Path(page.source), page.passwords)

    def _page_facts(self, page: PageInput, doc: pymupdf.Document) -> PageFacts:
        key = (page.doc_id, page.page_index, str(page.source))
        if self._facts_key == key and self._facts is not None:
            return self._facts  # both tasks of one page are asked one after the other
        if not 0 <= page.page_index < doc.page_count:
            raise ValueError(f"page {page.page_index + 1} is out of range (the PDF has {doc.page_count} pages)")
        # Each page's bands are read once, not once per neighbour (pages come in document order).
        running: set[str] = set()
        for i in (page.page_index - 1, page.page_index + 1):
            if 0 <= i < doc.page_count:
                if i not in self._bands:
                    self._bands[i] = _bands_of(doc, i)
                running |= self._bands[i]
        for i in [i for i in self._bands if i < page.page_index - 1]:  # behind us: not needed again
            del self._bands[i]
        self._facts = read_page(doc.load_page(page.page_index), running=running)
        self._facts_key = key
        return self._facts

    def _document(self, doc_id: str, source: Path, passwords) -> pymupdf.Document:
        if self._doc is not None and self._doc_id == doc_id:
            return self._doc
        self.close()
        try:
            self._doc = open_pdf(source, tuple(passwords or ()))
        except PdfOpenError as exc:
            raise ValueError(exc.detail) from exc
        self._doc_id = doc_id
        return self._doc

    def close(self) -> None:
        if self._doc is not None:
            self._doc.close()
        self._doc = self._doc_id = None
        self._facts = self._facts_key = None
        self._bands = {}


def _bands_of(doc: pymupdf.Document, index: int) -> set[str]:
    """The header/footer band lines of a neighbouring page (running headers repeat there).

    A neighbour that MuPDF cannot load (a cycle in the page tree) only takes away that evidence:
    the page itself is still read.
    """
    try:
        return band_lines(doc.load_page(index))
    except Exception:  # noqa: BLE001 - MuPDF raises its own error classes for broken page trees
        return set()
