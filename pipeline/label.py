"""The label stage: every rendered page x every task -> one checked, stored teacher answer.

Each request has a content-addressed key (image bytes + task + prompt + schema + teacher + model
+ generation parameters + anchoring). A key whose answer is stored is never sent again; answers
that failed for a transient reason (429, 5xx, timeout) are sent again on the next run, and
``retry_failed`` re-sends the other failures too. Each answer is committed on its own, so a
killed run loses at most the request in flight.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.answers import REPAIRABLE, TRANSIENT, Checked, Outcome, check_reply, repair_prompt
from pipeline.config import RenderRunConfig
from pipeline.pagetext import PageTextReader
from pipeline.pdfio import candidate_passwords
from pipeline.records import LabelRecord, PageRecord, PageStatus
from pipeline.store import RunStore
from pipeline.tasks import Task
from pipeline.teachers import PageInput, Reply, Teacher

_MIME = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png"}


@dataclass(frozen=True)
class LabelConfig:
    tasks: tuple[Task, ...]
    anchor: bool = False          # add a bounded text-layer excerpt to the teacher prompt
    repair: bool = True           # one re-ask quoting the validation errors for invalid answers
    retry_failed: bool = False    # send again every failed request, not only transient failures


@dataclass
class LabelSummary:
    teacher: str = ""
    model: str = ""
    requests: int = 0                                  # calls to the teacher (repair re-asks included)
    up_to_date: int = 0                                # (page, task) pairs already answered
    outcomes: Counter = field(default_factory=Counter)  # "task:outcome" -> count, this run
    warnings: Counter = field(default_factory=Counter)
    tokens_in: int = 0
    tokens_out: int = 0
    failures: list[dict] = field(default_factory=list)  # {path, page, task, outcome, detail}
    seconds: float = 0.0

    def to_dict(self) -> dict:
        by_task: dict[str, dict[str, int]] = {}
        for key, count in sorted(self.outcomes.items()):
            task, outcome = key.split(":", 1)
            by_task.setdefault(task, {})[outcome] = count
        return {"teacher": self.teacher, "model": self.model, "requests": self.requests,
                "up_to_date": self.up_to_date, "labels": by_task, "warnings": dict(self.warnings),
                "tokens": {"in": self.tokens_in, "out": self.tokens_out},
                "failures": self.failures, "seconds": round(self.seconds, 3)}


def request_key(image_sha256: str, task: Task, teacher: Teacher, anchor: bool) -> str:
    """Content address of one teacher request (32 hex chars)."""
    identity = {"image": image_sha256, "task": task.name, "prompt": task.prompt_hash, "schema": task.schema_hash,
                "teacher": teacher.name, "model": teacher.model, "params": teacher.generation_params(),
                "anchor": anchor}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


def _needs_request(stored: str | None, retry_failed: bool) -> bool:
    if stored is None:
        return True
    if stored == Outcome.OK.value:
        return False
    return retry_failed or Outcome(stored) in TRANSIENT


def plan_requests(store: RunStore, cfg: LabelConfig, teacher: Teacher,
                  summary: LabelSummary) -> Iterator[tuple[PageRecord, Task, str]]:
    pages = list(store.iter_pages(PageStatus.RENDERED))
    for page in pages:
        for task in cfg.tasks:
            key = request_key(page.image_sha256, task, teacher, cfg.anchor)
            if _needs_request(store.label_outcome(key), cfg.retry_failed):
                yield page, task, key
            else:
                summary.up_to_date += 1


class _Sources:
    """Where each document's PDF is now, and its passwords (kept in memory only)."""

    def __init__(self, run_cfg: RenderRunConfig, store: RunStore):
        self.run_cfg, self.store = run_cfg, store
        self._cache: dict[str, tuple[Path | None, tuple[str, ...], dict, str]] = {}

    def get(self, doc_id: str) -> tuple[Path | None, tuple[str, ...], dict, str]:
        if doc_id not in self._cache:
            row = self.store.get_document(doc_id)
            paths = self.store.document_paths(doc_id) or [row["path"]]
            found = next((self.run_cfg.pdf_dir / p for p in paths if (self.run_cfg.pdf_dir / p).is_file()), None)
            rel = paths[0]
            passwords = tuple(candidate_passwords(rel, self.run_cfg.passwords_by_name, self.run_cfg.passwords))
            self._cache[doc_id] = (found, passwords, json.loads(row["pdf_metadata"]), row["path"])
        return self._cache[doc_id]


def ask_checked(teacher: Teacher, task: Task, page: PageInput, page_text: str | None,
                repair: bool) -> tuple[Reply, Checked, int]:
    """Ask once, and once more quoting the errors if the answer has the wrong shape."""
    prompt = task.teacher_prompt(page.anchor_text)
    reply = teacher.ask(page, task, prompt)
    checked = check_reply(task, reply, page_text)
    if not (repair and checked.outcome in REPAIRABLE):
        return reply, checked, 1
    second = teacher.ask(page, task, repair_prompt(prompt, reply.text, checked))
    second_checked = check_reply(task, second, page_text)
    second.tokens_in += reply.tokens_in
    second.tokens_out += reply.tokens_out
    if second_checked.outcome is Outcome.OK:
        second_checked.warnings.insert(0, "repaired")
    return second, second_checked, 2


def label_pages(run_cfg: RenderRunConfig, cfg: LabelConfig, store: RunStore, teacher: Teacher,
                progress: bool = True) -> LabelSummary:
    """Label every rendered page under every task; only TeacherFatalError (and config errors) raise."""
    started = time.perf_counter()
    summary = LabelSummary(teacher=teacher.name, model=teacher.model)
    teacher.check_tasks(list(cfg.tasks))
    with store.transaction():
        for task in cfg.tasks:
            store.put_task(task.name, task.prompt_hash, task.schema_hash, task.student_prompt,
                           task.teacher_template, task.model.model_json_schema())
    todo = list(plan_requests(store, cfg, teacher, summary))
    sources = _Sources(run_cfg, store)
    bar = _progress_bar(progress, len(todo))
    with PageTextReader() as texts:
        for page, task, key in todo:
            source, passwords, pdf_metadata, rel = sources.get(page.doc_id)
            page_text = texts.text(page.doc_id, source, passwords, page.page_index)
            image = (run_cfg.run_dir / page.image_path).read_bytes()
            page_input = PageInput(page.doc_id, page.page_index, image, _MIME[page.image_path.rsplit(".", 1)[-1]],
                                   source=source, passwords=passwords, pdf_metadata=pdf_metadata,
                                   anchor_text=page_text if cfg.anchor else None)
            reply, checked, attempts = ask_checked(teacher, task, page_input, page_text, cfg.repair)
            record = LabelRecord(
                request_key=key, doc_id=page.doc_id, page_index=page.page_index, task=task.name,
                teacher=teacher.name, model=teacher.model, prompt_hash=task.prompt_hash,
                schema_hash=task.schema_hash, outcome=checked.outcome.value, params=teacher.generation_params(),
                finish_reason=reply.finish_reason, tokens_in=reply.tokens_in, tokens_out=reply.tokens_out,
                attempts=attempts, raw_text=reply.text, label=checked.data, warnings=checked.warnings,
                detail=checked.errors, created_at=time.time())
            with store.transaction():
                store.put_label(record)
            _count(summary, record, rel)
            bar.set_postfix_str(f"failed {len(summary.failures)}", refresh=False)
            bar.update(1)
    bar.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _count(summary: LabelSummary, record: LabelRecord, rel_path: str) -> None:
    summary.requests += record.attempts
    summary.outcomes[f"{record.task}:{record.outcome}"] += 1
    summary.tokens_in += record.tokens_in
    summary.tokens_out += record.tokens_out
    for warning in record.warnings:
        summary.warnings[warning.split(":")[0] if warning.startswith("salvaged") else warning] += 1
    if record.outcome != Outcome.OK.value:
        summary.failures.append({"path": rel_path, "page": record.page_index + 1, "task": record.task,
                                 "outcome": record.outcome, "detail": record.detail[:300]})


def _progress_bar(enabled: bool, total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="label", desc="label", disable=None if enabled else True)
