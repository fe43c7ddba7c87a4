"""Teachers by name. Adding a provider: one module with a ``@register``-ed ``Teacher`` subclass,
plus its line here (modules are imported on demand, so an unused SDK is never imported).

The rest of the pipeline asks a teacher (or its class) what it can do: ``priced``,
``off_machine``, ``thread_safe``, ``image_tokens``, ``has_batch_api`` / ``batch_client()``;
a teacher's ``name`` is data (stored with every label), never something to branch on.
"""

from __future__ import annotations

import importlib

from pipeline.teachers.base import (RETRYABLE, TEACHERS, PageInput, Reply, ReplyStatus, Teacher,
                                    TeacherConfigError, TeacherFatalError, TeacherSettings, register)

_MODULES = {
    "textlayer": "pipeline.teachers.textlayer",
    "tesseract": "pipeline.teachers.tesseract",
    "gemini": "pipeline.teachers.gemini",
    "openai": "pipeline.teachers.openai_chat",
    "openai-compatible": "pipeline.teachers.openai_chat",
}
TEACHER_NAMES = tuple(_MODULES)
DEFAULT_TEACHER = "textlayer"
# Each teacher's default model, for --help without importing its SDK (a second to import);
# tests/teachers keep it equal to the classes' default_model. "": the teacher needs --model.
DEFAULT_MODELS = {"textlayer": "pymupdf-textlayer-1", "tesseract": "tesseract", "gemini": "gemini-2.5-flash", "openai": "gpt-4o-2024-08-06",
                  "openai-compatible": ""}

__all__ = ["RETRYABLE", "TEACHERS", "TEACHER_NAMES", "DEFAULT_TEACHER", "DEFAULT_MODELS", "PageInput", "Reply", "ReplyStatus",
           "Teacher", "TeacherConfigError", "TeacherFatalError", "TeacherSettings", "register", "make_teacher",
           "teacher_class", "batch_teacher_names", "ocr_words", "tesseract_version_or_none"]


def teacher_class(name: str) -> type[Teacher]:
    """The named teacher's class (its module imported now), to ask what it can do before building it."""
    if name not in _MODULES:
        raise TeacherConfigError(f"unknown teacher {name!r}: use one of {', '.join(TEACHER_NAMES)}")
    importlib.import_module(_MODULES[name])
    return TEACHERS[name]


def make_teacher(name: str, settings: TeacherSettings) -> Teacher:
    """Build the named teacher; unknown names and missing keys raise TeacherConfigError."""
    return teacher_class(name)(settings)


def batch_teacher_names() -> tuple[str, ...]:
    """The teachers with a Batch API, for messages (every teacher module is imported to ask it)."""
    # Reverse name order lists the OpenAI family before gemini, as the messages always have.
    return tuple(sorted((name for name in TEACHER_NAMES if teacher_class(name).has_batch_api), reverse=True))


def ocr_words(image: bytes, size: tuple[int, int], langs: str = "ara+eng"):
    """Tesseract's words (text, box, confidence, block/par/line) on one page image, for the privacy gate's
    eyes on scans; raises TeacherConfigError (OcrUnavailable) when Tesseract or a language is missing."""
    from pipeline.teachers.tesseract import check_tesseract, ocr_page

    check_tesseract(langs)
    return ocr_page(image, size, langs)


def tesseract_version_or_none() -> str | None:
    """The installed Tesseract's version, or None when OCR cannot run here (the gate then marks scans unverified)."""
    try:
        from pipeline.teachers.tesseract import tesseract_version
    except ImportError:
        return None
    return tesseract_version()
