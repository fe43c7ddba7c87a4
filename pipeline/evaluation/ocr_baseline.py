"""An offline teacher as a system under evaluation: ``--system NAME=TEACHER[:LANGS]``, e.g.
``--system ocr=tesseract`` (traditional OCR) or ``--system rules=textlayer``.

The teacher reads each reference item's page image and answers its task the way it labels a run,
through the teachers' public interface (so nothing here knows one teacher from another), and every
report can show the student against the teacher against traditional OCR on the same items. Items
of a task the teacher cannot answer, or without an image, get no answer: they are counted in the
report's "without a prediction". Teachers that send pages off this machine are refused: evaluate
never uploads a reference page.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.evaluation.inputs import EvalItem
from pipeline.tasks import Task


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


def _mime(image: Path) -> str:
    return "image/png" if image.suffix.lower() == ".png" else "image/jpeg"


def predict_offline(items: list[EvalItem], teacher_name: str, langs: str,
                    tasks: dict[str, Task]) -> tuple[dict[str, str], OcrStats]:
    """item id -> the offline teacher's answer (label JSON) for every item with an image and a task it answers.

    Raises ConfigError before any work when the teacher cannot run here (Tesseract or a language
    missing) or would send pages off this machine.
    """
    from pipeline.teachers import PageInput, ReplyStatus, TeacherConfigError, TeacherSettings, make_teacher, \
        teacher_class

    if teacher_class(teacher_name).is_cloud:
        raise ConfigError(f"--system ...={teacher_name}: evaluate runs only offline teachers on the reference "
                          "pages (this one would upload them); score a cloud teacher's run with NAME=run:RUN_DIR")
    try:
        teacher = make_teacher(teacher_name, TeacherSettings(ocr_lang=langs))
    except TeacherConfigError as exc:
        raise ConfigError(str(exc)) from exc
    stats = OcrStats(engine=f"{teacher.model}, {langs}")
    started = time.perf_counter()
    by_image: dict[Path, list[EvalItem]] = {}
    for item in items:
        task = tasks.get(item.task or "")
        try:
            if task is None:
                raise TeacherConfigError(f"unknown task {item.task!r}")
            teacher.check_tasks([task])
        except TeacherConfigError:
            stats.unsupported_task += 1
            continue
        if item.image is None or not item.image.is_file():
            stats.no_image += 1
        else:
            by_image.setdefault(item.image, []).append(item)
    out: dict[str, str] = {}
    try:
        for image, page_items in by_image.items():   # the tasks of a page one after the other: one OCR per page
            stats.pages += 1
            page = PageInput(doc_id=str(image), page_index=0, image=image.read_bytes(), mime_type=_mime(image))
            for item in page_items:
                reply = teacher.ask(page, tasks[item.task], prompt="")
                if reply.status is not ReplyStatus.COMPLETE or reply.data is None:
                    stats.failed += 1
                    continue
                out[item.id] = json.dumps(reply.data, ensure_ascii=False)
                stats.answered += 1
    finally:
        teacher.close()
    stats.seconds = time.perf_counter() - started
    return out, stats
