"""Gemini Batch Mode: inline GenerateContent requests, answered within 24 h at half price.

``client.batches.create(model=..., src=[InlinedRequest ...])`` (REST
``models/{model}:batchGenerateContent``) starts the job; ``client.batches.get`` (REST
``batches/{id}``) polls it; a finished job carries its answers in ``dest.inlined_responses``,
each with the ``metadata`` we sent (our request key). Each answer is a normal
GenerateContentResponse, read by the online teacher's own reply mapping.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from google import genai
from google.genai import errors, types

from pipeline.tasks import Task
from pipeline.teachers.base import PageInput, Reply, ReplyStatus, Teacher, TeacherFatalError
from pipeline.teachers.batch import BatchResult, JobPoll, JobStateUnknown
from pipeline.teachers.gemini_reply import enum_name, reply_from_response

_TERMINAL = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
             "JOB_STATE_PARTIALLY_SUCCEEDED"}
# google.rpc.Code values of per-request errors that a later run should send again.
_RPC_TRANSIENT = {8: ReplyStatus.RATE_LIMITED, 4: ReplyStatus.TIMEOUT, 2: ReplyStatus.SERVER_ERROR,
                  10: ReplyStatus.SERVER_ERROR, 13: ReplyStatus.SERVER_ERROR, 14: ReplyStatus.SERVER_ERROR}


def error_reply(code: int | None, message: str) -> tuple[Reply, bool]:
    """A per-request google.rpc.Status as a Reply, and whether it is a rejection (not worth resending).

    >>> error_reply(8, "quota")[0].status.value, error_reply(3, "bad image")[1]
    ('rate_limited', True)
    """
    status = _RPC_TRANSIENT.get(code or 0)
    detail = f"(rpc {code}): {message}"
    return (Reply(status, detail=detail), False) if status else (Reply(ReplyStatus.SERVER_ERROR, detail=detail), True)


class GeminiBatch:
    """Gemini batch jobs through google-genai, for the ``gemini`` teacher's model and settings."""

    max_requests = 5_000
    max_bytes = 18 * 1024 * 1024       # inline requests: the API takes 20 MB per batch

    def __init__(self, teacher: Teacher):
        # teacher: a GeminiTeacher (its module imports this one, to build us, so not the other way round)
        self.teacher = teacher
        self._client = genai.Client(api_key=teacher.api_key(), vertexai=False, http_options=types.HttpOptions(
            base_url=teacher.settings.base_url or None, api_version="v1beta",
            timeout=max(60_000, int(teacher.settings.timeout_s * 1000))))
        self._done: dict[str, types.BatchJob] = {}
        self._schemas: dict[str, tuple[dict, int]] = {}   # task name -> (answer format, schema size): once per task

    def request(self, key: str, page: PageInput, task: Task, prompt: str) -> tuple[types.InlinedRequest, int]:
        """One inline request (the same content and config the online teacher sends) and its size."""
        if task.name not in self._schemas:
            output = self.teacher.output_format(task)     # the online answer format (--json-mode)
            self._schemas[task.name] = output, len(json.dumps(output.get("response_json_schema", {})))
        output, schema_size = self._schemas[task.name]
        config = types.GenerateContentConfig(
            **output,
            temperature=self.teacher.settings.temperature, max_output_tokens=self.teacher.settings.max_output_tokens)
        contents = self.teacher.contents(page, task, prompt)      # the online layout: static prompt first
        item = types.InlinedRequest(contents=contents, config=config, metadata={"request_key": key})
        size = sum(len(shown.image) * 4 // 3 + 100 for shown in page.pages) + len(prompt.encode()) + schema_size + 100
        return item, size

    def submit(self, items: list[types.InlinedRequest], name: str) -> tuple[str, str, str]:
        job = self._call("create the batch", lambda: self._client.batches.create(
            model=self.teacher.model, src=items, config=types.CreateBatchJobConfig(display_name=name)),
            unknown_on_transport=True)
        return job.name, enum_name(job.state), ""

    def find(self, name: str, since: float) -> tuple[str, str, str] | None:
        """The job created under display name ``name``, looked up among batches since ``since``."""
        for job in self._call("list batches", lambda: self._client.batches.list(config={"page_size": 100})):
            if job.display_name == name:
                return job.name, enum_name(job.state), ""
            if job.create_time is not None and job.create_time.timestamp() < since - 3600:
                return None
        return None

    def poll(self, job_id: str) -> JobPoll:
        job = self._call(f"read {job_id}", lambda: self._client.batches.get(name=job_id))
        state = enum_name(job.state)
        if state not in _TERMINAL:
            return JobPoll(False, False, state)
        self._done[job_id] = job
        answers = job.dest.inlined_responses if job.dest else None
        detail = f"{job.error.code}: {job.error.message}" if getattr(job, "error", None) else ""
        return JobPoll(True, not answers, state, detail)

    def results(self, job_id: str) -> Iterator[BatchResult]:
        job = self._done[job_id]
        for answer in (job.dest.inlined_responses if job.dest else None) or []:
            key = (answer.metadata or {}).get("request_key", "")
            if answer.error is not None:
                reply, rejected = error_reply(answer.error.code, answer.error.message or "")
                yield BatchResult(key, reply, rejected)
            elif answer.response is not None:
                yield BatchResult(key, reply_from_response(answer.response), False)

    def _call(self, what: str, fn, unknown_on_transport: bool = False):
        try:
            return fn()
        except errors.APIError as exc:
            said = self.teacher.scrub(f"({exc.code} {exc.status or ''}): {exc.message or exc.details}")
            if exc.code in (401, 403) or "API_KEY" in str(exc.details):
                raise TeacherFatalError(f"Gemini rejected the API key {said}; check GEMINI_API_KEY or "
                                        "GOOGLE_API_KEY") from None
            raise TeacherFatalError(f"the Gemini Batch API could not {what} {said}; rerun to try again "
                                    "(submitted jobs are kept in the run store)") from None
        except Exception as exc:       # transport errors (httpx or httpx2): the job state is unknown, not lost
            if type(exc).__module__.split(".")[0] not in ("httpx", "httpx2"):
                raise
            error = JobStateUnknown if unknown_on_transport else TeacherFatalError
            raise error(self.teacher.scrub(f"the Gemini Batch API could not {what}: {exc!r}; check "
                                    "--base-url and the network, then rerun")) from None

    def close(self) -> None:
        self._client.close()
