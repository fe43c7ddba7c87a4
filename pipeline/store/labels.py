"""The run store's labels (one row per request key) and the task definitions they were made with."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from pipeline.records import LabelRecord

if TYPE_CHECKING:
    from pipeline.tasks import Task


class LabelTables:
    """Mixed into RunStore: ``conn`` and ``transaction`` are its own."""

    conn: sqlite3.Connection

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

    def label_tokens(self, request_key: str) -> tuple[int, int]:
        """(tokens_in, tokens_out) of the stored answer for a key; (0, 0) if there is none."""
        row = self.conn.execute("SELECT tokens_in, tokens_out FROM labels WHERE request_key = ?",
                                (request_key,)).fetchone()
        return (row["tokens_in"], row["tokens_out"]) if row else (0, 0)

    def first_answers(self, teacher: str, model: str, outcomes: Iterable[str]) -> list[sqlite3.Row]:
        """A teacher's stored first answers (one request, no re-ask yet) with one of ``outcomes``."""
        outcomes = sorted(outcomes)
        return self.conn.execute(
            "SELECT request_key, doc_id, page_index, task, prompt_hash, outcome, raw_text, detail FROM labels "
            f"WHERE attempts = 1 AND teacher = ? AND model = ? AND outcome IN ({', '.join('?' * len(outcomes))})",
            (teacher, model, *outcomes)).fetchall()

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

    def put_tasks(self, tasks: Iterable[Task]) -> None:
        """Record the task definitions a run labels with (one transaction); known ones are left as they are."""
        with self.transaction():
            for task in tasks:
                self.put_task(task.name, task.prompt_hash, task.schema_hash, task.student_prompt,
                              task.teacher_template, task.model.model_json_schema())

    def tasks(self) -> dict[tuple[str, str], sqlite3.Row]:
        """(prompt_hash, schema_hash) -> the task definition labels were made with."""
        rows = self.conn.execute("SELECT * FROM tasks")
        return {(r["prompt_hash"], r["schema_hash"]): r for r in rows}
