"""``--ocr-fallback``: a page without a usable text layer (a scan, an image document) read by OCR instead.

- ``auto`` (default): OCR when Tesseract and the ``--ocr-lang`` languages are installed; otherwise
  the page is recorded ``no_text_layer`` with the command that installs them.
- ``never``: never OCR (``no_text_layer``, as before).
- ``always``: OCR, and a missing Tesseract is a configuration error before any work.

Only pages the text layer cannot label are OCR'd: a page with text keeps its text-layer label.
The OCR settings are part of every label's identity, so installing Tesseract relabels the
``no_text_layer`` pages of an earlier run (offline, at no cost).
"""

from __future__ import annotations

from pipeline.tasks import Task
from pipeline.teachers.base import PageInput, Reply, ReplyStatus, TeacherConfigError

FALLBACKS = ("auto", "never", "always")


class OcrFallback:
    def __init__(self, mode: str, langs: str):
        if mode not in FALLBACKS:
            raise TeacherConfigError(f"--ocr-fallback must be one of {', '.join(FALLBACKS)}, got {mode!r}")
        self.mode, self.langs = mode, langs
        self.engine: str | None = None      # "tesseract-5.3.0" when OCR is on
        self.missing = ""                   # why OCR is off under auto
        self._ocr = None
        if mode == "never":
            return
        from pipeline.teachers.tesseract import OcrUnavailable, PageOcr, check_tesseract

        try:
            self.engine = f"tesseract-{check_tesseract(langs)}"
        except (OcrUnavailable, ValueError) as exc:
            if mode == "always":
                raise TeacherConfigError(f"--ocr-fallback always: {exc}") from exc
            self.missing = str(exc)
            return
        self._ocr = PageOcr(langs)

    def params(self) -> dict:
        """What the OCR adds to a label's identity (nothing when it is off)."""
        if self.engine is None:
            return {}
        from pipeline.teachers.tesseract.labels import RULES_VERSION

        return {"ocr": self.engine, "ocr_lang": self.langs, "ocr_rules": RULES_VERSION}

    def reply(self, page: PageInput, task: Task, why: str) -> Reply:
        """The OCR's answer for a page the text layer cannot label (``why``), or NO_TEXT_LAYER."""
        if self._ocr is None:
            hint = f"; to OCR such pages instead: {self.missing}" if self.missing else ""
            return Reply(status=ReplyStatus.NO_TEXT_LAYER, detail=why + hint)
        from pipeline.teachers.tesseract.labels import ocr_reply

        try:
            result = self._ocr.read(page)
        except Exception as exc:  # noqa: BLE001 - a per-page failure must come back as a Reply
            return Reply(status=ReplyStatus.SERVER_ERROR, detail=f"{why}; OCR failed: {exc}")
        return ocr_reply(task, result, page.pdf_metadata, f"{self.engine}, {self.langs}, for a page without a usable text layer")
