"""The run store's core: opening (read-write or read-only), transactions, meta, documents and pages."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline import __version__
from pipeline.errors import StoreError
from pipeline.records import DocumentRecord, PageRecord, PageStatus
from pipeline.store.batch import BatchTables
from pipeline.store.labels import LabelTables
from pipeline.store.merging import MergeTables
from pipeline.store.privacy import PrivacyTables
from pipeline.store.review import ReviewTables
from pipeline.store.opening import open_read_only, open_read_write, os_cause
from pipeline.store.schema import PAGE_COLUMNS, SCHEMA_VERSION, STORE_FILENAME


class RunStore(LabelTables, BatchTables, MergeTables, ReviewTables, PrivacyTables):
    """One run folder's database. ``read_only``: nothing is created or written (a run on read-only media)."""

    def __init__(self, run_dir: Path, read_only: bool = False):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / STORE_FILENAME
        self.read_only = read_only
        if read_only:
            self.conn = open_read_only(self.path)
        else:
            try:
                self.run_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the run folder {self.run_dir}: {os_cause(exc)}") from exc
            self.conn = open_read_write(self.path)
        try:
            self._check_version()
        except BaseException:
            self.conn.close()
            raise

    def _check_version(self) -> None:
        found = self.get_meta("schema_version")
        if found is None and not self.read_only:
            with self.transaction():
                self.set_meta("schema_version", str(SCHEMA_VERSION))
                self.set_meta("created_by", f"docdistill {__version__}")
                self.set_meta("created_at", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        elif found is not None and int(found) > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer docdistill (store schema {found} > "
                             f"{SCHEMA_VERSION}); upgrade docdistill to continue this run (the store is unchanged)")

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
            f"INSERT OR REPLACE INTO pages ({', '.join(PAGE_COLUMNS)}, updated_at) "
            f"VALUES ({', '.join('?' * (len(PAGE_COLUMNS) + 1))})",
            [(p.doc_id, p.page_index, p.status.value, p.render_key, p.image_path, p.image_sha256,
              p.width, p.height, p.rotation, p.text_chars, int(p.enhanced), p.phash, p.reason, p.seconds, now)
             for p in pages])

    def iter_pages(self, status: PageStatus | None = PageStatus.RENDERED) -> Iterator[PageRecord]:
        query = f"SELECT {', '.join(PAGE_COLUMNS)} FROM pages"
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


    def rendered_page_rows(self) -> Iterator[sqlite3.Row]:
        """Rendered pages as raw rows with what the dataset stage needs (no record objects: 100k+ rows)."""
        yield from self.conn.execute("SELECT doc_id, page_index, image_path, width, height, phash, image_sha256 "
                                     "FROM pages WHERE status = ?", (PageStatus.RENDERED.value,))
