"""A run's answers as files a person (or another system) can use, named after the source documents.

``export_run`` writes, under the output folder:

- ``docs/<relative path>.json`` per document: source path (other paths it was seen under), content
  hash, outcome, and its pages in order, each with every task's answer or the reason it has none;
- ``docs/<relative path>.md``: the pages' markdown (a task answer's ``markdown`` field) joined with
  ``<!-- page N -->`` markers, for documents that have any;
- ``results.jsonl``: one line per page and task (one per skipped document).

A (page, task) shows the newest valid answer, else the newest failure (as build_dataset picks), among
the labels the filters keep (task, teacher, model): teacher labels of a distill run, student answers
of an extract run. Names come from the source paths, so a document seen under several paths is
written once; when one path stood for several contents (a file edited between runs), the newest
keeps the name and the others get their hash added. Files are replaced atomically.
"""

from __future__ import annotations

import itertools
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pipeline.errors import ConfigError
from pipeline.records import LabelRecord, PageRecord, PageStatus
from pipeline.store import RunStore

FORMATS = ("json", "md", "jsonl")
NOT_RENDERED = "render_failed"
NOT_ANSWERED = "not_answered"
DOCUMENT_SKIPPED = "document_skipped"
_MAX_LISTED_FAILURES = 200                 # in the summary; results.jsonl has every one


@dataclass(frozen=True)
class ExportConfig:
    out_dir: Path
    formats: tuple[str, ...] = FORMATS
    tasks: tuple[str, ...] = ()            # empty: every task the kept labels have
    teacher: str | None = None
    model: str | None = None
    pdf_dir: Path | None = None            # prefer a path that exists here now (extract names outputs after it)
    request_keys: frozenset[str] | None = None   # only these requests' answers (extract: today's settings)

    def __post_init__(self) -> None:
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown or not self.formats:
            raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {', '.join(unknown) or 'none'}")

    def keeps(self, label: LabelRecord) -> bool:
        return (not self.tasks or label.task in self.tasks) and self.teacher in (None, label.teacher) \
            and self.model in (None, label.model) \
            and (self.request_keys is None or label.request_key in self.request_keys)


@dataclass
class ExportSummary:
    out_dir: str = ""
    documents: int = 0
    skipped_documents: int = 0
    files: Counter = field(default_factory=Counter)         # format -> files written
    outcomes: dict[str, Counter] = field(default_factory=dict)   # task -> outcome -> (page, task) pairs
    failures: list[dict] = field(default_factory=list)      # {source, page, task, outcome, reason}
    failures_total: int = 0

    def to_dict(self) -> dict:
        return {"out_dir": self.out_dir, "documents": self.documents, "skipped_documents": self.skipped_documents,
                "files": dict(sorted(self.files.items())),
                "outcomes": {t: dict(sorted(c.items())) for t, c in sorted(self.outcomes.items())},
                "failures": self.failures, "failures_total": self.failures_total}


def output_name(rel: str) -> str:
    """A document's relative path (posix, as the run store keeps it) as a safe path under ``docs/``.

    >>> output_name("contracts/2024/lease.pdf"), output_name("../up/./b.pdf"), output_name("/abs/c.pdf")
    ('contracts/2024/lease.pdf', 'up/b.pdf', 'abs/c.pdf')
    """
    parts = [p for p in PurePosixPath(rel).parts if p not in ("", ".", "..", "/")]
    return "/".join(parts) or "unnamed.pdf"


def choose(labels: list[LabelRecord]) -> LabelRecord | None:
    """The newest valid answer, else the newest failure (``labels`` oldest first)."""
    valid = [label for label in labels if label.outcome == "ok"]
    return (valid or labels or [None])[-1]


def _answer_entry(label: LabelRecord | None, page: PageRecord | None) -> dict:
    if page is None or page.status is not PageStatus.RENDERED:
        return {"outcome": NOT_RENDERED, "reason": page.reason if page else "the page was never rendered"}
    if label is None:
        return {"outcome": NOT_ANSWERED, "reason": "no answer stored: the run stopped first, or did not ask; rerun"}
    entry = {"outcome": label.outcome, "answer": label.label, "teacher": label.teacher, "model": label.model,
             "warnings": label.warnings}
    if label.outcome != "ok":
        entry.update(reason=label.detail, raw_text=label.raw_text)
    return entry


def _groups(items: Iterable, key) -> Iterator[tuple[str, list]]:
    for group_key, group in itertools.groupby(items, key):
        yield group_key, list(group)


class _Cursor:
    """Walks (doc_id, items) groups sorted by doc_id alongside the documents, also sorted by doc_id."""

    def __init__(self, groups: Iterator[tuple[str, list]]):
        self.groups, self.current = groups, next(groups, None)

    def take(self, doc_id: str) -> list:
        while self.current is not None and self.current[0] < doc_id:
            self.current = next(self.groups, None)
        if self.current is None or self.current[0] != doc_id:
            return []
        items, self.current = self.current[1], next(self.groups, None)
        return items


def _names(store: RunStore, rows: list, pdf_dir: Path | None) -> dict[str, tuple[str, str, list[str]]]:
    """doc_id -> (output name, source path, every path it was seen under)."""
    claimed: dict[str, list] = {}
    sources = {}
    for row in rows:
        paths = store.document_paths(row["doc_id"]) or [row["path"]]
        # The path it was first seen under, unless that is gone from pdf_dir and another is there.
        present = [p for p in [row["path"], *paths] if pdf_dir is None or (pdf_dir / p).is_file()]
        sources[row["doc_id"]] = (present or [row["path"]])[0], paths
        claimed.setdefault(output_name(sources[row["doc_id"]][0]), []).append(row)
    names = {}
    for name, owners in claimed.items():
        owners.sort(key=lambda r: (r["updated_at"], r["doc_id"]))
        for row in owners:
            unique = name if row is owners[-1] else f"{name}.{row['doc_id'][:12]}"
            names[row["doc_id"]] = (unique, *sources[row["doc_id"]])
    return names


def document_entry(row, source: str, paths: list[str], pages: list[PageRecord], labels: list[LabelRecord],
                   tasks: list[str]) -> dict:
    """One document's export: its identity and outcome, and every page x task."""
    by_key = {key: list(group) for key, group in itertools.groupby(labels, lambda l: (l.page_index, l.task))}
    pages_by_index = {p.page_index: p for p in pages}
    entry = {"source": source, "other_paths": [p for p in paths if p != source], "doc_id": row["doc_id"],
             "status": row["status"], "page_count": row["page_count"], "tasks": tasks}
    if row["status"] != "ok":
        entry.update(reason=row["reason"], detail=row["detail"])
    entry["pages"] = [{"page": i + 1, "answers": {task: _answer_entry(choose(by_key.get((i, task), [])),
                                                                      pages_by_index.get(i)) for task in tasks}}
                      for i in range(row["page_count"] if row["status"] == "ok" else 0)]
    return entry


def document_markdown(entry: dict) -> str | None:
    """The pages' markdown joined with page markers, or None when no page has any.

    >>> print(document_markdown({"pages": [{"page": 1, "answers": {"content": {"outcome": "ok",
    ...     "answer": {"markdown": "# Lease"}}}}, {"page": 2, "answers": {"content": {"outcome": "truncated"}}}]}))
    <!-- page 1 -->
    # Lease
    <BLANKLINE>
    <!-- page 2: no markdown (content: truncated) -->
    <BLANKLINE>
    """
    parts, found = [], False
    for page in entry["pages"]:
        texts = [(a.get("answer") or {}).get("markdown") for a in page["answers"].values()]
        text = next((t for t in texts if isinstance(t, str)), None)
        if text is None:
            why = ", ".join(f"{task}: {a['outcome']}" for task, a in page["answers"].items())
            parts.append(f"<!-- page {page['page']}: no markdown ({why}) -->\n")
        else:
            found = True
            parts.append(f"<!-- page {page['page']} -->\n{text.strip()}\n")
    return "\n".join(parts) if found else None


def result_lines(entry: dict) -> Iterator[dict]:
    """The document's lines of results.jsonl: one per page and task, one for a skipped document."""
    base = {"source": entry["source"], "doc_id": entry["doc_id"]}
    if entry["status"] != "ok":
        yield {**base, "page": None, "task": None, "outcome": DOCUMENT_SKIPPED,
               "reason": f"{entry['reason']}: {entry['detail']}"}
    for page in entry["pages"]:
        for task, answer in page["answers"].items():
            yield {**base, "page": page["page"], "task": task, **answer}


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def kept_tasks(store: RunStore, cfg: ExportConfig) -> list[str]:
    """The tasks of the labels the filters keep (every task with labels when nothing is filtered)."""
    if cfg.teacher is None and cfg.model is None:
        return sorted({task for (task, _), n in store.count_labels().items() if n})
    return sorted({r["task"] for r in store.label_rows()
                   if cfg.teacher in (None, r["teacher"]) and cfg.model in (None, r["model"])})


def check_filters(store: RunStore, cfg: ExportConfig) -> None:
    """A filter that keeps nothing of a run that has labels is a ConfigError naming what the run has."""
    seen = {(r["task"], r["teacher"], r["model"]) for r in store.label_rows()}
    if not seen:
        return
    kept = {task for task, teacher, model in seen if cfg.teacher in (None, teacher) and cfg.model in (None, model)}
    if not kept:
        have = ", ".join(sorted({f"{teacher} ({model})" for _, teacher, model in seen}))
        raise ConfigError(f"no labels from teacher {cfg.teacher or 'any'}, model {cfg.model or 'any'} in "
                          f"{store.run_dir}; it has labels from {have}")
    if cfg.tasks and not kept & set(cfg.tasks):
        raise ConfigError(f"no labels for task(s) {', '.join(cfg.tasks)} in {store.run_dir}; "
                          f"it has {', '.join(sorted(kept))}")


def export_run(store: RunStore, cfg: ExportConfig) -> ExportSummary:
    """Write the per-document files and results.jsonl for every document of the run; returns the counts."""
    summary = ExportSummary(out_dir=str(cfg.out_dir))
    rows = sorted(store.documents(), key=lambda r: r["doc_id"])
    names = _names(store, rows, cfg.pdf_dir)
    tasks = list(cfg.tasks) or kept_tasks(store, cfg)
    pages = _Cursor(_groups(store.iter_pages(status=None), lambda p: p.doc_id))
    labels = _Cursor(_groups((l for l in store.iter_labels() if cfg.keeps(l)), lambda l: l.doc_id))
    docs = cfg.out_dir / "docs"
    results = cfg.out_dir / "results.jsonl"
    tmp_results = results.with_name(f".{results.name}.tmp")
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    with open(tmp_results, "w", encoding="utf-8") as lines:
        for row in rows:
            name, source, paths = names[row["doc_id"]]
            entry = document_entry(row, source, paths, pages.take(row["doc_id"]), labels.take(row["doc_id"]), tasks)
            summary.documents += 1
            summary.skipped_documents += row["status"] != "ok"
            if "json" in cfg.formats:
                _write_text(docs / f"{name}.json", json.dumps(entry, ensure_ascii=False, indent=2) + "\n")
                summary.files["json"] += 1
            markdown = document_markdown(entry) if "md" in cfg.formats else None
            if markdown is not None:
                _write_text(docs / f"{name}.md", markdown)
                summary.files["md"] += 1
            for line in result_lines(entry):
                _count(summary, line)
                if "jsonl" in cfg.formats:
                    lines.write(json.dumps(line, ensure_ascii=False) + "\n")
    if "jsonl" in cfg.formats:
        os.replace(tmp_results, results)
        summary.files["jsonl"] += 1
    else:
        tmp_results.unlink()
    return summary


def _count(summary: ExportSummary, line: dict) -> None:
    task = line["task"] or "(document)"
    summary.outcomes.setdefault(task, Counter())[line["outcome"]] += 1
    if line["outcome"] != "ok":
        summary.failures_total += 1
        if len(summary.failures) < _MAX_LISTED_FAILURES:
            summary.failures.append({k: line.get(k) for k in ("source", "page", "task", "outcome")} |
                                    {"reason": (line.get("reason") or "")[:300]})
