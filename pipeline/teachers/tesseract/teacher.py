"""The ``tesseract`` teacher: traditional OCR as an offline teacher (no model, no key, nothing sent)."""

from __future__ import annotations

import hashlib
import threading

from pipeline.tasks import Task
from pipeline.teachers.base import PageInput, Reply, ReplyStatus, Teacher, TeacherConfigError, register
from pipeline.teachers.tesseract.engine import PSM_FULL_PAGE, OcrUnavailable, check_tesseract, parse_langs
from pipeline.teachers.tesseract.labels import RULES_VERSION, SUPPORTED_TASKS, OcrResult, ocr_reply, read_image


class PageOcr:
    """One page's OCR kept for its second task (both tasks of a page are asked one after the other)."""

    def __init__(self, langs: str):
        self.langs = langs
        self._key: tuple | None = None
        self._result: OcrResult | None = None

    def read(self, page: PageInput) -> OcrResult:
        key = (page.doc_id, page.page_index, hashlib.sha256(page.image).digest())
        if key != self._key or self._result is None:
            self._result, self._key = read_image(page.image, self.langs), key
        return self._result


@register
class TesseractTeacher(Teacher):
    """Content and metadata from Tesseract 5's words and layout, in pixel coordinates of the page image."""

    name = "tesseract"
    default_model = "tesseract"       # becomes tesseract-<installed version>: part of each label's identity
    api_key_env = ()
    is_cloud = False
    priced = False                    # no tokens, no cost
    # CPU-bound, one page at a time: each OCR runs its own single-threaded process (see engine);
    # the label stage runs such teachers at concurrency 1.
    thread_safe = False

    def __init__(self, settings):
        super().__init__(settings)
        self.langs = settings.ocr_lang or "ara+eng"
        try:
            parse_langs(self.langs)
            version = check_tesseract(self.langs)
        except (OcrUnavailable, ValueError) as exc:
            raise TeacherConfigError(f"the tesseract teacher: {exc}") from exc
        self.model = settings.model or f"tesseract-{version}"
        self._ocr = PageOcr(self.langs)
        self._lock = threading.Lock()     # callers that ignore thread_safe still get one page at a time

    def check_tasks(self, tasks: list[Task]) -> None:
        for task in tasks:
            if task.name not in SUPPORTED_TASKS:
                raise TeacherConfigError(f"the tesseract teacher can only label content and metadata; "
                                         f"use an API teacher for task {task.name}")

    def generation_params(self) -> dict:
        return {"lang": self.langs, "psm": PSM_FULL_PAGE, "rules": RULES_VERSION}

    def ask(self, page: PageInput, task: Task, prompt: str, temperature: float | None = None) -> Reply:
        self.check_tasks([task])
        try:
            with self._lock:
                result = self._ocr.read(page)
        except Exception as exc:  # noqa: BLE001 - a per-page failure must come back as a Reply
            return Reply(status=ReplyStatus.SERVER_ERROR, detail=f"OCR failed: {exc}")
        return ocr_reply(task, result, page.pdf_metadata, f"{self.model}, {self.langs}")
