"""A starting label for pages no teacher answered: an offline teacher's, or a local student's.

Pages held back by the privacy gate must not leave the machine, so only teachers that run here are
asked: every registered teacher that is neither a cloud service nor billed (``is_cloud``,
``priced``: textlayer today, tesseract once installed) and, with ``--prefill-endpoint``, the
student served on this machine or its private network. The person then corrects instead of typing.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.label.answers import check_reply
from pipeline.label.sources import MIME_TYPES
from pipeline.render.pdfio import candidate_passwords
from pipeline.review.forms import TaskForm
from pipeline.store import RunStore
from pipeline.tasks import Task
from pipeline.teachers import TEACHER_NAMES, PageInput, Teacher, TeacherConfigError, TeacherSettings, teacher_class
from pipeline.teachers.http import host_is_local


def is_offline_teacher(name: str) -> bool:
    """Whether the teacher of that (stored) name runs on this machine without a bill: textlayer, tesseract.

    >>> is_offline_teacher("textlayer"), is_offline_teacher("gemini"), is_offline_teacher("a-stub")
    (True, False, False)
    """
    try:
        cls = teacher_class(name)
    except TeacherConfigError:
        return False
    return not cls.is_cloud and not cls.priced


def parse_endpoint(text: str) -> tuple[str, str]:
    """``URL#MODEL`` -> (URL, MODEL); the model defaults to ``student``.

    >>> parse_endpoint("http://127.0.0.1:8000/v1#docdistill"), parse_endpoint("http://127.0.0.1:8000/v1")[1]
    (('http://127.0.0.1:8000/v1', 'docdistill'), 'student')
    """
    url, _, model = text.partition("#")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--prefill-endpoint {text!r}: give URL#MODEL, e.g. http://127.0.0.1:8000/v1#student")
    if not host_is_local(url):
        raise ConfigError(f"--prefill-endpoint {url}: pages held back by the privacy gate must not leave this "
                          "machine; give a student served here or on your private network, e.g. "
                          "http://127.0.0.1:8000/v1#student (llamafactory-cli api or vLLM on this machine)")
    return url, model or "student"


class Prefiller:
    """Asks the local teachers in turn (the endpoint first, when given) until one gives a valid label."""

    def __init__(self, run_dir: Path, pdf_dir: Path | None = None, endpoint: str | None = None,
                 passwords: tuple[str, ...] = (), passwords_by_name: dict[str, str] | None = None):
        self.run_dir, self.pdf_dir = run_dir, pdf_dir
        self.passwords, self.passwords_by_name = passwords, passwords_by_name or {}   # in memory only
        self.endpoint = parse_endpoint(endpoint) if endpoint else None
        self._teachers: list[Teacher] | None = None
        self._notes: list[str] = []
        self._lock = threading.Lock()       # offline teachers are not thread-safe (MuPDF): one page at a time
        self._cache: dict[tuple[str, str], tuple[dict | None, str, list[str]]] = {}

    def _build(self) -> list[Teacher]:
        teachers: list[Teacher] = []
        if self.endpoint:
            from pipeline.student.teacher import StudentTeacher

            url, model = self.endpoint
            teachers.append(StudentTeacher(TeacherSettings(model=model, base_url=url, timeout_s=60)))
        for name in TEACHER_NAMES:
            if is_offline_teacher(name):
                try:
                    teachers.append(teacher_class(name)(TeacherSettings()))
                except TeacherConfigError as exc:     # tesseract not installed: say so on the form
                    self._notes.append(f"{name}: {exc}")
        return teachers

    def page_input(self, store: RunStore, doc_id: str, page_index: int, image_path: str) -> PageInput:
        row = store.get_document(doc_id)
        paths = store.document_paths(doc_id) or ([row["path"]] if row is not None else [])
        source = None
        if self.pdf_dir is not None:
            found = [self.pdf_dir / p for p in paths if (self.pdf_dir / p).is_file()]
            source = found[0] if found else None
        # the same candidates, in the same order, as the label stage (pipeline.label.sources)
        passwords = tuple(candidate_passwords(paths[0], self.passwords_by_name, self.passwords)) if paths else ()
        image = (self.run_dir / image_path).read_bytes()
        return PageInput(doc_id, page_index, image, MIME_TYPES[image_path.rsplit(".", 1)[-1].lower()],
                         source=source, passwords=passwords, pdf_metadata=_metadata(row))

    def prefill(self, store: RunStore, form: TaskForm, page) -> tuple[dict | None, str, list[str]]:
        """(label or None, where it came from, notes on the teachers that gave nothing) for one page."""
        key = (page["image_sha256"], form.name)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            if self._teachers is None:
                self._teachers = self._build()
            task = Task(form.name, form.model, "", form.student_prompt)
            notes = list(self._notes)
            if self.pdf_dir is None:
                notes.append("no --pdf-dir given: the textlayer teacher cannot read the page's PDF")
            result: tuple[dict | None, str, list[str]] = (None, "", notes)
            try:
                page_input = self.page_input(store, page["doc_id"], page["page_index"], page["image_path"])
            except OSError as exc:
                notes.append(f"the page image {page['image_path']} cannot be read ({exc.strerror}): nothing to prefill")
                self._cache[key] = result
                return result
            for teacher in self._teachers:
                try:
                    teacher.check_tasks([task])
                    reply = teacher.ask(page_input, task, teacher.prompt_for(task))
                except Exception as exc:  # noqa: BLE001 - a teacher that fails leaves the form empty, with why
                    notes.append(f"{teacher.name}: {exc}")
                    continue
                checked = check_reply(task, reply)
                if checked.data is not None:
                    result = (checked.data, f"prefill:{teacher.name}/{teacher.model}", notes)
                    break
                notes.append(f"{teacher.name}: {checked.outcome.value} {reply.detail or checked.errors}"[:300])
            self._cache[key] = result
            return result

    def close(self) -> None:
        for teacher in self._teachers or ():
            teacher.close()


def _metadata(row) -> dict:
    return json.loads(row["pdf_metadata"]) if row is not None else {}
