"""Teachers by name. Adding a provider: one module with a ``@register``-ed ``Teacher`` subclass,
plus its line here (modules are imported on demand, so an unused SDK is never imported).
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

__all__ = ["RETRYABLE", "TEACHERS", "TEACHER_NAMES", "DEFAULT_TEACHER", "PageInput", "Reply", "ReplyStatus",
           "Teacher", "TeacherConfigError", "TeacherFatalError", "TeacherSettings", "register", "make_teacher"]


def make_teacher(name: str, settings: TeacherSettings) -> Teacher:
    """Build the named teacher; unknown names and missing keys raise TeacherConfigError."""
    if name not in _MODULES:
        raise TeacherConfigError(f"unknown teacher {name!r}: use one of {', '.join(TEACHER_NAMES)}")
    importlib.import_module(_MODULES[name])
    return TEACHERS[name](settings)
