"""The evaluate endpoint's answer cache: its own small SQLite file beside the report, not the run store.

Answers are kept by content address (``endpoint.request_key``), so a rerun of ``evaluate`` sends
nothing it has an answer for. It is a cache: deleting it costs only the requests made again.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

CACHE_FILENAME = "endpoint_cache.sqlite"


class PredictionCache:
    """key -> answer text, in one SQLite file (written from the calling thread only)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path)
        self.conn.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, model TEXT NOT NULL, "
                          "text TEXT NOT NULL, created_at REAL NOT NULL)")

    def get(self, key: str) -> str | None:
        row = self.conn.execute("SELECT text FROM answers WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, model: str, text: str) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)", (key, model, text, time.time()))

    def close(self) -> None:
        self.conn.close()
