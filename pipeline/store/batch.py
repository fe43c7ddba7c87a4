"""The run store's batch jobs: which provider job holds which request, so nothing is paid twice.

A job is recorded with its requests *before* it is sent (``submitting``, under the name we give
it) and confirmed with the provider's id once accepted; a later ``--collect`` (another process,
after a restart, on another day) finds it here. While a job is ``submitting`` or ``pending``, its
request keys are not sent again, online or in a batch.
"""

from __future__ import annotations

import json
import sqlite3
import time

from pipeline.records import BATCH_PENDING, BATCH_SUBMITTING, BatchedRequest, BatchJob
from pipeline.store.schema import BATCH_SCHEMA

_JOB_COLUMNS = ("job_id", "provider", "model", "params", "state", "provider_status", "requests", "input_file_id",
                "detail", "submitted_at", "updated_at")


class BatchTables:
    """Mixed into RunStore: ``conn`` and ``transaction`` are its own."""

    conn: sqlite3.Connection

    def ensure_batch_tables(self) -> None:
        self.conn.executescript(BATCH_SCHEMA)

    def has_batch_tables(self) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'batch_requests'").fetchone() is not None

    def record_batch_job(self, job: BatchJob, requests: list[BatchedRequest]) -> None:
        """Record a job with its requests in one transaction (state ``submitting``: before sending it)."""
        now = time.time()
        with self.transaction():
            self.conn.execute(
                f"INSERT OR REPLACE INTO batch_jobs ({', '.join(_JOB_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_JOB_COLUMNS))})",
                (job.job_id, job.provider, job.model, json.dumps(job.params, sort_keys=True), job.state,
                 job.provider_status, len(requests), job.input_file_id, "", now, now))
            self.conn.executemany(
                "INSERT OR REPLACE INTO batch_requests VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(r.request_key, job.job_id, r.doc_id, r.page_index, r.task, r.prompt_hash, r.schema_hash,
                  r.attempt) for r in requests])

    def confirm_batch_job(self, name: str, job_id: str, provider_status: str, input_file_id: str = "") -> None:
        """The provider accepted the job recorded as ``name``: it is known by the provider's id from now on."""
        with self.transaction():
            self.conn.execute("UPDATE batch_jobs SET job_id = ?, state = ?, provider_status = ?, input_file_id = ?, "
                              "updated_at = ? WHERE job_id = ?",
                              (job_id, BATCH_PENDING, provider_status, input_file_id, time.time(), name))
            self.conn.execute("UPDATE batch_requests SET job_id = ? WHERE job_id = ?", (job_id, name))

    def drop_batch_job(self, name: str) -> None:
        """Forget a job the provider never accepted: its keys are free to send again."""
        with self.transaction():
            self.conn.execute("DELETE FROM batch_requests WHERE job_id = ?", (name,))
            self.conn.execute("DELETE FROM batch_jobs WHERE job_id = ?", (name,))

    def batch_jobs(self, state: str = BATCH_PENDING, provider: str | None = None,
                   model: str | None = None) -> list[BatchJob]:
        """Jobs in ``state``, oldest first; with ``provider`` and ``model``: only that teacher's."""
        query, args = "SELECT * FROM batch_jobs WHERE state = ?", [state]
        if provider is not None:
            query += " AND provider = ? AND model = ?"
            args += [provider, model]
        rows = self.conn.execute(query + " ORDER BY submitted_at, job_id", args)
        return [BatchJob(**{**dict(r), "params": json.loads(r["params"])}) for r in rows]

    def batch_pending_keys(self) -> set[str]:
        """Request keys inside a pending job: not to be sent again until it is collected.

        Safe on any run store (the online label stage may ask): no batch tables means no pending keys.
        """
        if not self.has_batch_tables():
            return set()
        rows = self.conn.execute("SELECT r.request_key FROM batch_requests r JOIN batch_jobs j USING (job_id) "
                                 "WHERE j.state IN (?, ?)", (BATCH_PENDING, BATCH_SUBMITTING))
        return {r["request_key"] for r in rows}

    def batch_job_requests(self, job_id: str) -> dict[str, BatchedRequest]:
        rows = self.conn.execute("SELECT request_key, doc_id, page_index, task, prompt_hash, schema_hash, attempt "
                                 "FROM batch_requests WHERE job_id = ?", (job_id,))
        return {r["request_key"]: BatchedRequest(**dict(r)) for r in rows}

    def update_batch_job(self, job_id: str, state: str, provider_status: str, detail: str = "") -> None:
        """A poll's news about a job (one transaction)."""
        with self.transaction():
            self.conn.execute("UPDATE batch_jobs SET state = ?, provider_status = ?, detail = ?, updated_at = ? "
                              "WHERE job_id = ?", (state, provider_status, detail[:2000], time.time(), job_id))

    def count_batch_jobs(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT state, COUNT(*) AS n FROM batch_jobs GROUP BY state")
        return {r["state"]: r["n"] for r in rows}
