"""The run store's review tables: verdicts (the audit trail), the review queues and their progress.

Verdicts are appended, never changed: each has a revision per (image, task), and a save based on an
older revision raises ReviewConflict inside the same transaction (two tabs cannot both win). The
queues are derived state, rebuilt at every start of the review app; every per-item query goes
through an index (``tests/review`` checks the query plans).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator

from pipeline.errors import ReviewConflict
from pipeline.records import ReviewVerdict
from pipeline.store.schema import REVIEW_SCHEMA

_VERDICT_COLUMNS = ("image_sha256", "task", "revision", "doc_id", "page_index", "verdict", "reason", "reviewer",
                    "request_key", "prompt_hash", "schema_hash", "source", "label_before", "label_after", "diff",
                    "created_at")
# (queue, position, doc_id, page_index, task, image_sha256, why)
QueueRow = tuple[str, int, str, int, str, str, str]


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


class ReviewTables:
    """Mixed into RunStore: ``conn`` and ``transaction`` are its own."""

    conn: sqlite3.Connection

    def ensure_review_tables(self) -> None:
        self.conn.executescript(REVIEW_SCHEMA)

    def has_review_tables(self) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'review_verdicts'").fetchone() is not None

    # -- verdicts -----------------------------------------------------------------------
    def add_verdict(self, verdict: ReviewVerdict, base_revision: int) -> int:
        """Append a verdict made on ``base_revision`` (0: none yet); returns its revision.

        Raises ReviewConflict (nothing written) when another verdict was saved since.
        """
        with self.transaction():
            current = self.label_revision(verdict.image_sha256, verdict.task)
            if current != base_revision:
                raise ReviewConflict(current, f"this label was saved by someone else in the meantime (revision "
                                              f"{current}, this page showed {base_revision}): reload to see it")
            verdict.revision, verdict.created_at = current + 1, time.time()
            values = {c: getattr(verdict, c) for c in _VERDICT_COLUMNS}
            values.update(label_before=_json(verdict.label_before), label_after=_json(verdict.label_after),
                          diff=json.dumps(verdict.diff, ensure_ascii=False))
            self.conn.execute(f"INSERT INTO review_verdicts ({', '.join(values)}) "
                              f"VALUES ({', '.join('?' * len(values))})", tuple(values.values()))
            if verdict.verdict != "skip":
                self._mark_done(verdict.image_sha256, verdict.task)
        return verdict.revision

    def _mark_done(self, image_sha256: str, task: str) -> None:
        self.conn.execute(
            "UPDATE review_progress SET done = done + (SELECT COUNT(*) FROM review_items i WHERE i.queue = "
            "review_progress.queue AND i.image_sha256 = ? AND i.task = ? AND i.done = 0) WHERE queue IN "
            "(SELECT queue FROM review_items WHERE image_sha256 = ? AND task = ? AND done = 0)",
            (image_sha256, task, image_sha256, task))
        self.conn.execute("UPDATE review_items SET done = 1 WHERE image_sha256 = ? AND task = ? AND done = 0",
                          (image_sha256, task))

    def label_revision(self, image_sha256: str, task: str) -> int:
        row = self.conn.execute("SELECT MAX(revision) AS r FROM review_verdicts WHERE image_sha256 = ? AND task = ?",
                                (image_sha256, task)).fetchone()
        return row["r"] or 0

    def latest_verdict(self, image_sha256: str, task: str, decided: bool = False) -> sqlite3.Row | None:
        """The newest verdict on an image's label (``decided``: the newest that is not a skip)."""
        skip = " AND verdict != 'skip'" if decided else ""
        return self.conn.execute(f"SELECT * FROM review_verdicts WHERE image_sha256 = ? AND task = ?{skip} "
                                 "ORDER BY revision DESC LIMIT 1", (image_sha256, task)).fetchone()

    def iter_verdicts(self) -> Iterator[sqlite3.Row]:
        yield from self.conn.execute("SELECT * FROM review_verdicts ORDER BY verdict_id")

    def review_decisions(self) -> dict[tuple[str, str], sqlite3.Row]:
        """(image sha256, task) -> its newest verdict that is not a skip; {} on a store never reviewed."""
        if not self.has_review_tables():
            return {}
        rows = self.conn.execute(
            "SELECT v.* FROM review_verdicts v JOIN (SELECT image_sha256, task, MAX(revision) AS revision "
            "FROM review_verdicts WHERE verdict != 'skip' GROUP BY image_sha256, task) m "
            "USING (image_sha256, task, revision)")
        return {(r["image_sha256"], r["task"]): r for r in rows}

    # -- queues -------------------------------------------------------------------------
    def replace_review_items(self, queues: list[str], rows: Iterable[QueueRow]) -> None:
        """The queues' items (rebuilt at each start), already decided ones marked done, and progress."""
        with self.transaction():
            self.conn.execute("DELETE FROM review_items")
            self.conn.execute("DELETE FROM review_progress")
            self.conn.executemany("INSERT INTO review_items (queue, position, doc_id, page_index, task, image_sha256, "
                                  "why) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self.conn.execute("UPDATE review_items SET done = 1 WHERE EXISTS (SELECT 1 FROM review_verdicts v WHERE "
                              "v.image_sha256 = review_items.image_sha256 AND v.task = review_items.task AND "
                              "v.verdict != 'skip')")
            counts = {r["queue"]: (r["total"], r["done"]) for r in self.conn.execute(
                "SELECT queue, COUNT(*) AS total, SUM(done) AS done FROM review_items GROUP BY queue")}
            self.conn.executemany("INSERT INTO review_progress VALUES (?, ?, ?, ?)",
                                  [(q, rank, *counts.get(q, (0, 0))) for rank, q in enumerate(queues)])

    def iter_review_items(self) -> Iterator[sqlite3.Row]:
        """Every queue's items, queue by queue (an export: not a per-page query)."""
        yield from self.conn.execute("SELECT i.* FROM review_items i JOIN review_progress p USING (queue) "
                                     "ORDER BY p.rank, i.position")

    def review_progress(self) -> list[sqlite3.Row]:
        """One row per queue (a handful), in queue order: total and done."""
        return self.conn.execute("SELECT * FROM review_progress ORDER BY rank").fetchall()

    def review_item(self, queue: str, position: int) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM review_items WHERE queue = ? AND position = ?",
                                 (queue, position)).fetchone()

    def next_review_item(self, queue: str, after: int) -> sqlite3.Row | None:
        """The first item still to decide after ``after`` in ``queue``."""
        return self.conn.execute("SELECT * FROM review_items WHERE queue = ? AND done = 0 AND position > ? "
                                 "ORDER BY position LIMIT 1", (queue, after)).fetchone()

    def previous_review_item(self, queue: str, before: int) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM review_items WHERE queue = ? AND position < ? "
                                 "ORDER BY position DESC LIMIT 1", (queue, before)).fetchone()

    # -- what one item shows ------------------------------------------------------------
    def page_row(self, doc_id: str, page_index: int) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM pages WHERE doc_id = ? AND page_index = ?",
                                 (doc_id, page_index)).fetchone()

    def page_label_rows(self, doc_id: str, page_index: int, task: str) -> list[sqlite3.Row]:
        """Every label stored on one page under one task, oldest first."""
        return self.conn.execute("SELECT * FROM labels WHERE doc_id = ? AND page_index = ? AND task = ? "
                                 "ORDER BY created_at", (doc_id, page_index, task)).fetchall()

    def task_definition(self, name: str) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM tasks WHERE name = ?", (name,)).fetchall()
