"""The run store: one SQLite database per run folder (WAL mode, one writer); all of the project's SQL.

It holds documents (by content hash) and the paths they were seen under, pages with their render
state, labels and the task definitions they were made with, batch jobs, and merging of shards.
Every write is a transaction, so a run killed at any moment leaves a consistent store; rerunning
skips what is recorded as done. ``RunStore(run_dir, read_only=True)`` reads a run without writing
anything (read-only media included).

``core`` opens it and holds meta, documents and pages; ``labels``, ``batch``, ``merging`` and ``review`` add
their tables' methods; ``schema`` is the DDL and ``opening`` the connection and its error messages.
"""

from pipeline.errors import StoreError
from pipeline.store.core import RunStore
from pipeline.store.schema import BATCH_TABLES, REDACTED_DIR, REVIEW_TABLES, SCHEMA_VERSION, STORE_FILENAME

__all__ = ["RunStore", "STORE_FILENAME", "REDACTED_DIR", "SCHEMA_VERSION", "BATCH_TABLES", "REVIEW_TABLES", "StoreError"]
