"""Batch jobs in the run store: which provider job holds which request, so nothing is paid twice.

A job is recorded with its requests *before* it is sent (``submitting``, under the name we give
it), and confirmed with the provider's id once accepted; a later ``--collect`` (another process,
after a restart, on another day) finds it here. If the answer to the create call was lost (a
crash, a timeout), the next run looks the job up by its name instead of sending it twice. While a
job is ``submitting`` or ``pending``, its request keys are not sent again, online or in a batch.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import NamedTuple

from pipeline.store import RunStore
from pipeline.teachers.base import Reply, TeacherFatalError

SUBMITTING = "submitting"    # sent, not known to be accepted yet: the next run looks it up by name
PENDING = "pending"          # accepted by the provider; results not stored yet
COLLECTED = "collected"      # every result stored (missing ones are sent again by the next run)
FAILED = "failed"            # the provider failed, expired or cancelled the whole job: keys are free again
BATCH_TABLES = ("batch_jobs", "batch_requests")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_jobs (
    job_id TEXT PRIMARY KEY,          -- the provider's id: OpenAI batch_..., Gemini batches/...
    provider TEXT NOT NULL,           -- teacher name: openai | gemini
    model TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',  -- generation parameters the requests were sent with
    state TEXT NOT NULL,              -- submitting | pending | collected | failed
    provider_status TEXT NOT NULL DEFAULT '',
    requests INTEGER NOT NULL DEFAULT 0,
    input_file_id TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '',
    submitted_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_requests (
    request_key TEXT NOT NULL,
    job_id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    page_index INTEGER NOT NULL,
    task TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    schema_hash TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,   -- 2: a repair re-ask quoting the first answer's errors
    PRIMARY KEY (request_key, job_id)
);
CREATE INDEX IF NOT EXISTS batch_requests_by_job ON batch_requests (job_id);
"""


@dataclass(frozen=True)
class BatchedRequest:
    """One request inside a job: enough to store its answer as a LabelRecord."""

    request_key: str
    doc_id: str
    page_index: int
    task: str
    prompt_hash: str
    schema_hash: str
    attempt: int = 1           # 2: the repair re-ask for an invalid or malformed first answer


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


def ensure_batch_tables(store: RunStore) -> None:
    store.conn.executescript(_SCHEMA)


def record_job(store: RunStore, job_id: str, provider: str, model: str, params: dict,
               requests: list[BatchedRequest], provider_status: str = "", input_file_id: str = "",
               state: str = PENDING) -> None:
    """Record a job with its requests in one transaction (``state=SUBMITTING``: before sending it)."""
    now = time.time()
    with store.transaction():
        store.conn.execute(
            "INSERT OR REPLACE INTO batch_jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?)",
            (job_id, provider, model, json.dumps(params, sort_keys=True), state, provider_status,
             len(requests), input_file_id, now, now))
        store.conn.executemany(
            "INSERT OR REPLACE INTO batch_requests VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(r.request_key, job_id, r.doc_id, r.page_index, r.task, r.prompt_hash, r.schema_hash, r.attempt)
             for r in requests])


def confirm_job(store: RunStore, name: str, job_id: str, provider_status: str, input_file_id: str = "") -> None:
    """The provider accepted the job recorded as ``name``: it is known by the provider's id from now on."""
    with store.transaction():
        store.conn.execute("UPDATE batch_jobs SET job_id = ?, state = ?, provider_status = ?, input_file_id = ?, "
                           "updated_at = ? WHERE job_id = ?",
                           (job_id, PENDING, provider_status, input_file_id, time.time(), name))
        store.conn.execute("UPDATE batch_requests SET job_id = ? WHERE job_id = ?", (job_id, name))


def drop_job(store: RunStore, name: str) -> None:
    """Forget a job the provider never accepted: its keys are free to send again."""
    with store.transaction():
        store.conn.execute("DELETE FROM batch_requests WHERE job_id = ?", (name,))
        store.conn.execute("DELETE FROM batch_jobs WHERE job_id = ?", (name,))


def pending_jobs(store: RunStore, state: str = PENDING) -> list[dict]:
    rows = store.conn.execute("SELECT * FROM batch_jobs WHERE state = ? ORDER BY submitted_at, job_id", (state,))
    return [dict(r) for r in rows]


def pending_keys(store: RunStore) -> set[str]:
    """Request keys inside a pending job: not to be sent again until it is collected.

    Safe on any run store (the online label stage may ask): no batch tables means no pending keys.
    """
    if store.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'batch_requests'").fetchone() is None:
        return set()
    rows = store.conn.execute("SELECT r.request_key FROM batch_requests r JOIN batch_jobs j USING (job_id) "
                              "WHERE j.state IN (?, ?)", (PENDING, SUBMITTING))
    return {r["request_key"] for r in rows}


def job_requests(store: RunStore, job_id: str) -> dict[str, BatchedRequest]:
    rows = store.conn.execute("SELECT request_key, doc_id, page_index, task, prompt_hash, schema_hash, attempt "
                              "FROM batch_requests WHERE job_id = ?", (job_id,))
    return {r["request_key"]: BatchedRequest(**dict(r)) for r in rows}


def update_job(store: RunStore, job_id: str, state: str, provider_status: str, detail: str = "") -> None:
    store.conn.execute("UPDATE batch_jobs SET state = ?, provider_status = ?, detail = ?, updated_at = ? "
                       "WHERE job_id = ?", (state, provider_status, detail[:2000], time.time(), job_id))


def count_jobs(store: RunStore) -> dict[str, int]:
    rows = store.conn.execute("SELECT state, COUNT(*) AS n FROM batch_jobs GROUP BY state")
    return {r["state"]: r["n"] for r in rows}
