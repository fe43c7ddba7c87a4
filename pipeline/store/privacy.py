"""The run store's privacy audit: what the gate decided for each page (kinds, classes, actions, box hashes)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator

from pipeline.store.schema import PRIVACY_SCHEMA

_COLUMNS = ("doc_id", "page_index", "image_sha256", "policy", "source", "action", "findings", "span_count",
            "masked_boxes", "detail", "updated_at")


class PrivacyTables:
    """Mixed into RunStore: ``conn`` and ``transaction`` are its own."""

    conn: sqlite3.Connection

    def ensure_privacy_tables(self) -> None:
        self.conn.executescript(PRIVACY_SCHEMA)

    def put_privacy_audit(self, row: dict) -> None:
        values = {**row, "findings": json.dumps(row["findings"], sort_keys=True),
                  "masked_boxes": json.dumps(row["masked_boxes"]), "updated_at": time.time()}
        self.conn.execute(f"INSERT OR REPLACE INTO privacy_pages ({', '.join(_COLUMNS)}) "
                          f"VALUES ({', '.join('?' * len(_COLUMNS))})", tuple(values[c] for c in _COLUMNS))

    def iter_privacy_audit(self) -> Iterator[dict]:
        if self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'privacy_pages'").fetchone() is None:
            return
        for row in self.conn.execute("SELECT * FROM privacy_pages ORDER BY doc_id, page_index"):
            out = dict(row)
            out["findings"], out["masked_boxes"] = json.loads(out["findings"]), json.loads(out["masked_boxes"])
            yield out
