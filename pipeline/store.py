"""The run store: one SQLite database per run folder (WAL mode, one writer).

It holds documents (by content hash) and the paths they were seen under, pages with their
render state, and (later stages) labels. Every write is a transaction, so a run killed at any
moment leaves a consistent store; rerunning skips what is recorded as done.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline import __version__
from pipeline.records import DocumentRecord, LabelRecord, PageRecord, PageStatus
from pipeline.errors import StoreError  # noqa: F401 (re-exported)

STORE_FILENAME = "run.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    detail TEXT NOT NULL DEFAULT '',
    page_count INTEGER NOT NULL DEFAULT 0,
    encryption TEXT,
    repaired INTEGER NOT NULL DEFAULT 0,
    pdf_metadata TEXT NOT NULL DEFAULT '{}',
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS document_paths (
    doc_id TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (doc_id, path)
);
-- Hash cache: a path whose size and mtime are unchanged is not re-hashed on resume.
CREATE TABLE IF NOT EXISTS inputs (
    path TEXT PRIMARY KEY,
    size_bytes INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    doc_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pages (
    doc_id TEXT NOT NULL,
    page_index INTEGER NOT NULL,
    status TEXT NOT NULL,
    render_key TEXT NOT NULL DEFAULT '',
    image_path TEXT NOT NULL DEFAULT '',
    image_sha256 TEXT NOT NULL DEFAULT '',
    width INTEGER NOT NULL DEFAULT 0,
    height INTEGER NOT NULL DEFAULT 0,
    rotation INTEGER NOT NULL DEFAULT 0,
    text_chars INTEGER NOT NULL DEFAULT 0,
    enhanced INTEGER NOT NULL DEFAULT 0,
    phash TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    seconds REAL NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL,
    PRIMARY KEY (doc_id, page_index)
);
-- One row per teacher request identity (image + task + prompt + schema + teacher + model + params):
-- a finished key is never sent again; a changed prompt or model is a new key.
CREATE TABLE IF NOT EXISTS labels (
    request_key TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL,
    page_index INTEGER NOT NULL,
    task TEXT NOT NULL,
    teacher TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    schema_hash TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    outcome TEXT NOT NULL,
    finish_reason TEXT NOT NULL DEFAULT '',
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 1,
    raw_text TEXT NOT NULL DEFAULT '',
    label_json TEXT,
    warnings TEXT NOT NULL DEFAULT '[]',
    detail TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
-- The task definitions labels were made with: the dataset stage needs their student prompts.
CREATE TABLE IF NOT EXISTS tasks (
    prompt_hash TEXT NOT NULL,
    schema_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    student_prompt TEXT NOT NULL,
    teacher_prompt TEXT NOT NULL,
    schema_json TEXT NOT NULL,
    PRIMARY KEY (prompt_hash, schema_hash)
);
CREATE INDEX IF NOT EXISTS labels_by_page ON labels (doc_id, page_index, task);
"""

_PAGE_COLUMNS = (
    "doc_id", "page_index", "status", "render_key", "image_path", "image_sha256",
    "width", "height", "rotation", "text_chars", "enhanced", "phash", "reason", "seconds",
)


class RunStore:
    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / STORE_FILENAME
        try:
            self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a killed process; only an OS crash can lose the last commit.
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable docdistill run store ({exc}); "
                             f"use another --out folder or delete the file") from exc
        self._check_version()

    def _check_version(self) -> None:
        found = self.get_meta("schema_version")
        if found is None:
            with self.transaction():
                self.set_meta("schema_version", str(SCHEMA_VERSION))
                self.set_meta("created_by", f"docdistill {__version__}")
                self.set_meta("created_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        elif int(found) > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer docdistill (store schema {found} > "
                             f"{SCHEMA_VERSION}); upgrade docdistill to continue this run")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # -- meta ---------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- inputs and documents -----------------------------------------------------------
    def cached_doc_id(self, path: str, size_bytes: int, mtime_ns: int) -> str | None:
        row = self.conn.execute(
            "SELECT doc_id FROM inputs WHERE path = ? AND size_bytes = ? AND mtime_ns = ?",
            (path, size_bytes, mtime_ns)).fetchone()
        return row["doc_id"] if row else None

    def remember_input(self, path: str, size_bytes: int, mtime_ns: int, doc_id: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO inputs VALUES (?, ?, ?, ?)",
                          (path, size_bytes, mtime_ns, doc_id))
        self.conn.execute("INSERT OR IGNORE INTO document_paths VALUES (?, ?)", (doc_id, path))

    def get_document(self, doc_id: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()

    def put_document(self, doc: DocumentRecord) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (doc.doc_id, doc.path, doc.size_bytes, doc.status.value,
             doc.reason.value if doc.reason else None, doc.detail, doc.page_count, doc.encryption,
             int(doc.repaired), json.dumps(doc.pdf_metadata, ensure_ascii=False), time.time()))

    def document_paths(self, doc_id: str) -> list[str]:
        rows = self.conn.execute("SELECT path FROM document_paths WHERE doc_id = ? ORDER BY path", (doc_id,))
        return [r["path"] for r in rows]

    def documents(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM documents ORDER BY path").fetchall()

    # -- pages --------------------------------------------------------------------------
    def page_states(self, doc_id: str) -> dict[int, tuple[str, str]]:
        """page_index -> (status, render_key) for one document."""
        rows = self.conn.execute("SELECT page_index, status, render_key FROM pages WHERE doc_id = ?", (doc_id,))
        return {r["page_index"]: (r["status"], r["render_key"]) for r in rows}

    def put_pages(self, pages: Iterable[PageRecord]) -> None:
        now = time.time()
        self.conn.executemany(
            f"INSERT OR REPLACE INTO pages ({', '.join(_PAGE_COLUMNS)}, updated_at) "
            f"VALUES ({', '.join('?' * (len(_PAGE_COLUMNS) + 1))})",
            [(p.doc_id, p.page_index, p.status.value, p.render_key, p.image_path, p.image_sha256,
              p.width, p.height, p.rotation, p.text_chars, int(p.enhanced), p.phash, p.reason, p.seconds, now)
             for p in pages])

    def iter_pages(self, status: PageStatus | None = PageStatus.RENDERED) -> Iterator[PageRecord]:
        query = f"SELECT {', '.join(_PAGE_COLUMNS)} FROM pages"
        args: tuple = ()
        if status is not None:
            query += " WHERE status = ?"
            args = (status.value,)
        for row in self.conn.execute(query + " ORDER BY doc_id, page_index", args):
            values = dict(row)
            values["status"] = PageStatus(values["status"])
            values["enhanced"] = bool(values["enhanced"])
            yield PageRecord(**values)

    def count_pages(self) -> dict[str, int]:
        rows = self.conn.execute("SELECT status, COUNT(*) AS n FROM pages GROUP BY status")
        return {r["status"]: r["n"] for r in rows}

    # -- labels -------------------------------------------------------------------------
    def label_outcome(self, request_key: str) -> str | None:
        row = self.conn.execute("SELECT outcome FROM labels WHERE request_key = ?", (request_key,)).fetchone()
        return row["outcome"] if row else None

    def put_label(self, label: LabelRecord) -> None:
        values = label.to_row()
        self.conn.execute(f"INSERT OR REPLACE INTO labels ({', '.join(values)}) "
                          f"VALUES ({', '.join('?' * len(values))})", tuple(values.values()))

    def iter_labels(self, task: str | None = None, outcome: str | None = None) -> Iterator[LabelRecord]:
        """Stored labels, newest last within each page and task."""
        where, args = [], []
        if task is not None:
            where.append("task = ?")
            args.append(task)
        if outcome is not None:
            where.append("outcome = ?")
            args.append(outcome)
        query = "SELECT * FROM labels" + (f" WHERE {' AND '.join(where)}" if where else "")
        for row in self.conn.execute(query + " ORDER BY doc_id, page_index, task, created_at", args):
            yield LabelRecord.from_row(dict(row))

    def rendered_page_rows(self) -> Iterator[sqlite3.Row]:
        """Rendered pages as raw rows with what the dataset stage needs (no record objects: 100k+ rows)."""
        yield from self.conn.execute("SELECT doc_id, page_index, image_path, width, height, phash, image_sha256 "
                                     "FROM pages WHERE status = ?", (PageStatus.RENDERED.value,))

    def label_rows(self) -> Iterator[sqlite3.Row]:
        """Labels as raw rows, oldest first, the label JSON left as text (the dataset stage copies it)."""
        yield from self.conn.execute(
            "SELECT doc_id, page_index, task, teacher, model, prompt_hash, schema_hash, outcome, label_json "
            "FROM labels ORDER BY created_at")

    def count_labels(self) -> dict[tuple[str, str], int]:
        rows = self.conn.execute("SELECT task, outcome, COUNT(*) AS n FROM labels GROUP BY task, outcome")
        return {(r["task"], r["outcome"]): r["n"] for r in rows}

    def put_task(self, name: str, prompt_hash: str, schema_hash: str, student_prompt: str, teacher_prompt: str,
                 schema: dict) -> None:
        self.conn.execute("INSERT OR IGNORE INTO tasks VALUES (?, ?, ?, ?, ?, ?)",
                          (prompt_hash, schema_hash, name, student_prompt, teacher_prompt,
                           json.dumps(schema, ensure_ascii=False)))

    def tasks(self) -> dict[tuple[str, str], sqlite3.Row]:
        """(prompt_hash, schema_hash) -> the task definition labels were made with."""
        rows = self.conn.execute("SELECT * FROM tasks")
        return {(r["prompt_hash"], r["schema_hash"]): r for r in rows}
