"""The run store's privacy audit: what the gate decided for each page (kinds, classes, actions, box hashes)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator

from pipeline.store.schema import PRIVACY_SCHEMA

_COLUMNS = ("doc_id", "page_index", "image_sha256", "policy", "source", "action", "findings", "span_count",
            "masked_boxes", "detail", "updated_at", "redacted_image")


class PrivacyTables:
    """Mixed into RunStore: ``conn`` and ``transaction`` are its own."""

    conn: sqlite3.Connection

    def ensure_privacy_tables(self) -> None:
        self.conn.executescript(PRIVACY_SCHEMA)
        columns = {r["name"] for r in self.conn.execute("PRAGMA table_info(privacy_pages)")}
        if "redacted_image" not in columns:       # a store written before the redacted images were kept
            self.conn.execute("ALTER TABLE privacy_pages ADD COLUMN redacted_image TEXT NOT NULL DEFAULT ''")

    def has_privacy_tables(self) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'privacy_pages'").fetchone() is not None

    def put_privacy_audit(self, row: dict) -> None:
        values = {"redacted_image": "", **row, "findings": json.dumps(row["findings"], sort_keys=True),
                  "masked_boxes": json.dumps(row["masked_boxes"]), "updated_at": time.time()}
        self.conn.execute(f"INSERT OR REPLACE INTO privacy_pages ({', '.join(_COLUMNS)}) "
                          f"VALUES ({', '.join('?' * len(_COLUMNS))})", tuple(values[c] for c in _COLUMNS))

    def iter_privacy_audit(self) -> Iterator[dict]:
        if not self.has_privacy_tables():
            return
        for row in self.conn.execute("SELECT * FROM privacy_pages ORDER BY doc_id, page_index"):
            out = dict(row)
            out["findings"], out["masked_boxes"] = json.loads(out["findings"]), json.loads(out["masked_boxes"])
            yield out

    def redacted_images(self) -> dict[tuple[str, int], str]:
        """(doc_id, page_index) -> the masked image sent for it (a path in the run folder), redacted pages only."""
        if not self.has_privacy_tables():
            return {}
        columns = {r["name"] for r in self.conn.execute("PRAGMA table_info(privacy_pages)")}
        if "redacted_image" not in columns:
            return {}
        rows = self.conn.execute("SELECT doc_id, page_index, redacted_image FROM privacy_pages "
                                 "WHERE action = 'redact' AND redacted_image != ''")
        return {(r["doc_id"], r["page_index"]): r["redacted_image"] for r in rows}
