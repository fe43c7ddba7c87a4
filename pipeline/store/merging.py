"""Merging another run store (a shard) into this one, table by table, by fixed rules.

The source is attached as ``src`` for the length of ``attached``; only the columns both stores
have are copied, so a source written by an older docdistill merges too. Which row wins a
conflict is decided here, in SQL (``pipeline.merge`` documents the rules and places the images).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# s = the source's row, m = the merged row already there; "wins" means s replaces m.
_LABEL_WINS = ("(s.outcome = 'ok') > (m.outcome = 'ok') OR ((s.outcome = 'ok') = (m.outcome = 'ok') AND "
               "(s.created_at > m.created_at OR (s.created_at = m.created_at AND s.raw_text > m.raw_text)))")
_DOCUMENT_WINS = ("(s.status = 'ok') > (m.status = 'ok') OR ((s.status = 'ok') = (m.status = 'ok') AND "
                  "(s.updated_at > m.updated_at OR (s.updated_at = m.updated_at AND s.path < m.path)))")
# The privacy gate's audit of a page: the newest decision wins (a later run under another policy).
_PRIVACY_WINS = "s.updated_at > m.updated_at OR (s.updated_at = m.updated_at AND s.image_sha256 > m.image_sha256)"
# table -> (key columns, when the source's row wins); no rule: rows are facts that never conflict
# (a path, a task definition, a batch job), copied unless already there.
_RULES = {"documents": (("doc_id",), _DOCUMENT_WINS), "labels": (("request_key",), _LABEL_WINS),
          "privacy_pages": (("doc_id", "page_index"), _PRIVACY_WINS)}


class MergeTables:
    """Mixed into RunStore: ``conn`` is its own."""

    conn: sqlite3.Connection

    @contextmanager
    def attached(self, source: Path) -> Iterator[None]:
        """The run store file ``source`` attached as ``src`` (detached afterwards, whatever happens)."""
        self.conn.execute("ATTACH DATABASE ? AS src", (str(source),))
        try:
            yield
        finally:
            self.conn.execute("DETACH DATABASE src")

    def source_tables(self) -> set[str]:
        return {r["name"] for r in self.conn.execute("SELECT name FROM src.sqlite_master")}

    def _columns(self, table: str, schema: str = "main") -> list[str]:
        return [r["name"] for r in self.conn.execute(f"PRAGMA {schema}.table_info({table})")]

    def shared_columns(self, table: str) -> list[str]:
        source = set(self._columns(table, "src"))
        return [c for c in self._columns(table) if c in source]

    def merge_meta(self, prefix: str) -> int:
        """Copy the source's meta rows whose key starts with ``prefix`` (facts, such as the settings a
        render key stands for), unless already there; returns rows added."""
        before = self.conn.total_changes
        self.conn.execute("INSERT OR IGNORE INTO main.meta (key, value) SELECT key, value FROM src.meta "
                          "WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))
        return self.conn.total_changes - before

    def merge_table(self, table: str) -> int:
        """Copy the source's rows of one table by its rule; returns rows added or replaced."""
        cols = ", ".join(self.shared_columns(table))
        if table not in _RULES:
            sql = f"INSERT OR IGNORE INTO main.{table} ({cols}) SELECT {cols} FROM src.{table}"
        else:
            keys, wins = _RULES[table]
            picked = ", ".join(f"s.{c}" for c in cols.split(", "))
            on = " AND ".join(f"m.{k} = s.{k}" for k in keys)
            sql = (f"INSERT OR REPLACE INTO main.{table} ({cols}) SELECT {picked} FROM src.{table} s "
                   f"LEFT JOIN main.{table} m ON {on} WHERE m.{keys[0]} IS NULL OR {wins}")
        before = self.conn.total_changes
        self.conn.execute(sql)
        return self.conn.total_changes - before

    def merge_verdicts(self) -> int:
        """Append the source's review verdicts; returns how many were added.

        Verdicts are an audit trail: none already here is changed. A source verdict identical to one
        here (every column but its id and revision: the same shard merged twice, or a common ancestor)
        is left out; the others are appended per (image, task) after this store's newest revision, in
        their own revision order, so the one merged last counts (``review_decisions``).
        """
        cols = [c for c in self.shared_columns("review_verdicts") if c not in ("verdict_id", "revision")]
        same = " AND ".join(f"m.{c} IS s.{c}" for c in cols)
        new = self.conn.execute(f"SELECT {', '.join(f's.{c}' for c in cols)} FROM src.review_verdicts s WHERE NOT "
                                f"EXISTS (SELECT 1 FROM main.review_verdicts m WHERE {same}) "
                                "ORDER BY s.image_sha256, s.task, s.revision").fetchall()
        newest: dict[tuple[str, str], int] = {}
        insert = (f"INSERT INTO main.review_verdicts ({', '.join(cols)}, revision) "
                  f"VALUES ({', '.join('?' * len(cols))}, ?)")
        for row in new:
            key = (row["image_sha256"], row["task"])
            if key not in newest:
                newest[key] = self.conn.execute(
                    "SELECT COALESCE(MAX(revision), 0) FROM main.review_verdicts WHERE image_sha256 = ? AND task = ?",
                    key).fetchone()[0]
            newest[key] += 1
            self.conn.execute(insert, (*tuple(row), newest[key]))
        return len(new)

    def merged_pages(self) -> dict[tuple[str, int], sqlite3.Row]:
        """(doc_id, page_index) -> this store's page row, every column."""
        return {(r["doc_id"], r["page_index"]): r for r in self.conn.execute("SELECT * FROM main.pages")}

    def source_pages(self) -> list[sqlite3.Row]:
        """The source's page rows, with the columns both stores have."""
        return self.conn.execute(f"SELECT {', '.join(self.shared_columns('pages'))} FROM src.pages").fetchall()

    def put_page_row(self, row: sqlite3.Row) -> None:
        """A source page row (from ``source_pages``) into this store, replacing its own."""
        cols = row.keys()
        self.conn.execute(f"INSERT OR REPLACE INTO main.pages ({', '.join(cols)}) "
                          f"VALUES ({', '.join('?' * len(cols))})", tuple(row))
