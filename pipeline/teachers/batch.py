"""What a teacher's Batch API client is: the interface the label stage's batch mode drives.

A teacher that has one returns it from ``Teacher.batch_client()`` (``openai_batch.OpenAIBatch``,
``gemini_batch.GeminiBatch``); the others return None. A client builds one provider request per
(page, task), submits a list of them as one job under our name, finds a job by that name when the
answer to the create call was lost, polls a job and reads its results back as Replies.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple, Protocol

from pipeline.tasks import Task
from pipeline.teachers.base import PageInput, Reply, TeacherFatalError


class JobStateUnknown(TeacherFatalError):
    """The create call got no answer (a timeout, a dropped connection): the job may exist or not."""


class JobPoll(NamedTuple):
    """A provider job's state as one poll saw it."""

    done: bool                 # finished one way or another: results (if any) can be read
    failed: bool               # finished without any results (validation failed, cancelled early)
    status: str                # the provider's own word (in_progress, JOB_STATE_SUCCEEDED ...)
    detail: str = ""           # progress ("12/40") or the provider's error


class BatchResult(NamedTuple):
    """One request's answer (or error) read back from a finished job."""

    request_key: str
    reply: Reply
    rejected: bool = False     # the provider refused this request (a 4xx): recorded as ``rejected``


class BatchClient(Protocol):
    """One provider's Batch API, for one teacher's model and settings."""

    max_requests: int          # per job, the provider's limit
    max_bytes: int             # per job

    def request(self, key: str, page: PageInput, task: Task, prompt: str) -> tuple[Any, int]:
        """One provider request (the same content the online teacher sends) and its size in bytes."""

    def submit(self, items: list, name: str) -> tuple[str, str, str]:
        """Start a job named ``name``: (job id, provider status, input file id or "")."""

    def find(self, name: str, since: float) -> tuple[str, str, str] | None:
        """The job submitted as ``name`` after ``since``, if the provider has it."""

    def poll(self, job_id: str) -> JobPoll: ...

    def results(self, job_id: str) -> Iterator[BatchResult]: ...

    def close(self) -> None: ...
