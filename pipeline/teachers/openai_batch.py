"""OpenAI Batch API: a JSONL file of /v1/chat/completions requests, answered within 24 h at half price.

``files.create(purpose="batch")`` uploads the requests (``custom_id`` = our request key),
``batches.create`` starts the job, ``batches.retrieve`` polls it, and ``files.content`` downloads
the output file (answers) and the error file (per-request errors). Each answer body is a normal
chat.completion, read by the online teacher's own ``reply_from_body``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai

from pipeline.tasks import Task
from pipeline.teachers.base import PageInput, Reply, ReplyStatus, Teacher, TeacherFatalError
from pipeline.teachers.batch import BatchResult, JobPoll, JobStateUnknown
from pipeline.teachers.openai_reply import reply_from_body

ENDPOINT = "/v1/chat/completions"
_TERMINAL = {"completed", "expired", "cancelled", "failed"}
# Per-request errors that a later run should simply send again (nothing was learnt about the page).
_EXPIRED_CODES = {"batch_expired", "batch_cancelled"}


def error_reply(status_code: int, message: str) -> tuple[Reply, bool]:
    """A per-request error from the error file as a Reply, and whether it is a rejection (a 4xx).

    >>> error_reply(429, "slow down")[0].status.value, error_reply(503, "x")[1], error_reply(400, "bad")[1]
    ('rate_limited', False, True)
    """
    detail = f"({status_code}): {message}"
    if status_code == 429:
        return Reply(ReplyStatus.RATE_LIMITED, detail=detail), False
    if status_code == 408:
        return Reply(ReplyStatus.TIMEOUT, detail=detail), False
    if status_code >= 500 or status_code == 409:
        return Reply(ReplyStatus.SERVER_ERROR, detail=detail), False
    return Reply(ReplyStatus.SERVER_ERROR, detail=detail), True


class OpenAIBatch:
    """The Batch API through the openai SDK, for the ``openai`` teacher's model and settings."""

    max_requests = 50_000              # the API's limit per batch
    max_bytes = 100 * 1024 * 1024      # the API takes 200 MB; half keeps one upload reasonable

    def __init__(self, teacher: Teacher):
        # teacher: an OpenAITeacher (its module imports this one, to build us, so not the other way round)
        self.teacher = teacher
        # SDK retries on: these control calls cost nothing, unlike the answers themselves.
        self._client = openai.OpenAI(api_key=teacher.api_key(), base_url=teacher.settings.base_url or None,
                                     max_retries=2, timeout=max(60.0, teacher.settings.timeout_s))
        self._done: dict[str, object] = {}
        self._formats: dict[str, dict] = {}     # task name -> response_format (a schema dump: once per task)

    def request(self, key: str, page: PageInput, task: Task, prompt: str) -> tuple[str, int]:
        """One JSONL line (the same body the online teacher sends) and its size in bytes."""
        if task.name not in self._formats:      # the online answer format (--json-mode)
            self._formats[task.name] = self.teacher.answer_format(task)
        body = {"model": self.teacher.model, "messages": self.teacher.messages(page, task, prompt),
                **self._formats[task.name],
                "temperature": self.teacher.settings.temperature,
                "max_completion_tokens": self.teacher.settings.max_output_tokens}
        line = json.dumps({"custom_id": key, "method": "POST", "url": ENDPOINT, "body": body}, ensure_ascii=False)
        return line, len(line.encode()) + 1

    def submit(self, items: list[str], name: str) -> tuple[str, str, str]:
        """Upload and start one job; returns (job id, provider status, input file id)."""
        data = ("\n".join(items) + "\n").encode()
        file = self._call("upload the batch file", lambda: self._client.files.create(
            file=(f"{name}.jsonl", data, "application/jsonl"), purpose="batch"))
        # No SDK retry here: OpenAI takes no idempotency key, so a retried create could start a second
        # job. A lost answer raises JobStateUnknown and the next run finds the job by name (find()).
        batch = self._call("create the batch", lambda: self._client.with_options(max_retries=0).batches.create(
            input_file_id=file.id, endpoint=ENDPOINT, completion_window="24h", metadata={"docdistill": name}),
            unknown_on_transport=True)
        return batch.id, batch.status, file.id

    def find(self, name: str, since: float) -> tuple[str, str, str] | None:
        """The job created under ``name`` (metadata docdistill=name), looked up among batches since ``since``."""
        for batch in self._call("list batches", lambda: self._client.batches.list(limit=100)):
            if (batch.metadata or {}).get("docdistill") == name:
                return batch.id, batch.status, batch.input_file_id
            if batch.created_at < since - 3600:     # newest first: older ones cannot be ours
                return None
        return None

    def poll(self, job_id: str) -> JobPoll:
        batch = self._call(f"read batch {job_id}", lambda: self._client.batches.retrieve(job_id))
        counts = batch.request_counts
        progress = f"{counts.completed + counts.failed}/{counts.total}" if counts else ""
        if batch.status not in _TERMINAL:
            return JobPoll(False, False, batch.status, progress)
        self._done[job_id] = batch
        errors = "; ".join(f"{e.code}: {e.message}" for e in (batch.errors.data or [])) if batch.errors else ""
        has_files = bool(batch.output_file_id or batch.error_file_id)
        return JobPoll(True, not has_files, batch.status, errors or progress)

    def results(self, job_id: str) -> Iterator[BatchResult]:
        """Every answer and per-request error of a finished job (expired requests are left out)."""
        batch = self._done[job_id]
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            text = self._call(f"download {file_id}", lambda f=file_id: self._client.files.content(f).text)
            for line in text.splitlines():
                if line.strip():
                    result = self._parse_line(json.loads(line))
                    if result is not None:
                        yield result

    @staticmethod
    def _parse_line(item: dict) -> BatchResult | None:
        key = item.get("custom_id") or ""
        response = item.get("response") or {}
        error = item.get("error") or {}
        if error and not response:
            if error.get("code") in _EXPIRED_CODES:
                return None
            return BatchResult(key, Reply(ReplyStatus.SERVER_ERROR, detail=f"{error.get('code')}: "
                                                                           f"{error.get('message')}"), True)
        status = int(response.get("status_code") or 0)
        body = response.get("body") if isinstance(response.get("body"), dict) else {}
        if status == 200:
            return BatchResult(key, reply_from_body(body), False)
        message = (body.get("error") or {}).get("message") if isinstance(body.get("error"), dict) else None
        reply, rejected = error_reply(status, message or json.dumps(body)[:300])
        return BatchResult(key, reply, rejected)

    def _call(self, what: str, fn, unknown_on_transport: bool = False):
        try:
            return fn()
        except openai.APIStatusError as exc:
            message = exc.body.get("message") if isinstance(exc.body, dict) else None
            said = self.teacher.scrub(f"({exc.status_code}): {message or exc.message}")
            if exc.status_code in (401, 403):
                raise TeacherFatalError(f"OpenAI rejected the API key {said}; check OPENAI_API_KEY") from None
            raise TeacherFatalError(f"the OpenAI Batch API could not {what} {said}; rerun to try again "
                                    "(submitted jobs are kept in the run store)") from None
        except openai.APIConnectionError as exc:      # a timeout too: no answer, so no knowing what happened
            error = JobStateUnknown if unknown_on_transport else TeacherFatalError
            raise error(self.teacher.scrub(f"the OpenAI Batch API could not {what}: {exc.message}; "
                                    "check --base-url and the network, then rerun")) from None

    def close(self) -> None:
        self._client.close()
