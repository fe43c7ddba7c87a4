"""Traditional OCR as a system under evaluation: ``--system NAME=tesseract[:LANGS]``.

Tesseract reads each reference item's page image and answers the content and metadata tasks the
way the ``tesseract`` teacher does (``pipeline.teachers.tesseract``), so every report can show the
student against the teacher against traditional OCR on the same items. Items of other tasks, or
without an image, get no OCR answer: they are counted in the report's "without a prediction".
A page where OCR finds nothing is answered with an empty transcription (it scores what it read).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.evaluation.inputs import EvalItem


@dataclass
class OcrStats:
    pages: int = 0
    answered: int = 0
    unsupported_task: int = 0
    no_image: int = 0
    failed: int = 0
    seconds: float = 0.0
    engine: str = ""

    def to_dict(self) -> dict:
        return {**vars(self), "seconds": round(self.seconds, 2)}


def predict_tesseract(items: list[EvalItem], langs: str) -> tuple[dict[str, str], OcrStats]:
    """item id -> the OCR's answer (label JSON) for every content/metadata item with an image.

    Raises ConfigError (OcrUnavailable) before any work when Tesseract or a language is missing.
    """
    from pipeline.teachers.tesseract import check_tesseract, label_for, read_image
    from pipeline.teachers.tesseract.labels import SUPPORTED_TASKS

    version = check_tesseract(langs)
    stats = OcrStats(engine=f"tesseract-{version}, {langs}")
    started = time.perf_counter()
    by_image: dict[Path, list[EvalItem]] = {}
    for item in items:
        if item.task not in SUPPORTED_TASKS:
            stats.unsupported_task += 1
        elif item.image is None or not item.image.is_file():
            stats.no_image += 1
        else:
            by_image.setdefault(item.image, []).append(item)
    out: dict[str, str] = {}
    for image, page_items in by_image.items():   # one OCR per page, whatever the number of tasks
        stats.pages += 1
        try:
            result = read_image(image.read_bytes(), langs)
        except ConfigError:
            raise
        except Exception:  # noqa: BLE001 - an unreadable page is an item OCR could not answer
            stats.failed += len(page_items)
            continue
        for item in page_items:
            label = label_for(item.task, result, engine=stats.engine)
            out[item.id] = json.dumps(label.model_dump(mode="json"), ensure_ascii=False)
            stats.answered += 1
    stats.seconds = time.perf_counter() - started
    return out, stats
