"""The dataset stage: a run's valid labels -> a self-contained LLaMA-Factory dataset folder.

``collect`` picks each page's newest valid label per task and counts what it leaves out by reason;
``split_documents`` assigns whole documents (near-duplicates together) to splits; ``write_dataset``
streams the records to ShareGPT JSON files, places images and writes dataset_info.json, stats and
a manifest. Records are streamed, so memory holds one record at a time, not the dataset.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import __version__
from pipeline.config import ConfigError
from pipeline.records import PageRecord, PageStatus
from pipeline.sharegpt import (Sample, dataset_info_entry, estimate_tokens, image_tokens, label_text,
                               merge_dataset_info, place_image)
from pipeline.split import assign_splits, group_documents, leakage, near_duplicate_pairs
from pipeline.stats import SplitStats
from pipeline.store import RunStore

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DatasetConfig:
    run_dir: Path
    out_dir: Path
    name: str = "docdistill"
    tasks: tuple[str, ...] = ()            # empty: every task the run has labels for
    teacher: str | None = None             # only labels from this teacher
    val_fraction: float = 0.1
    test_fraction: float = 0.0
    val_pdfs: tuple[str, ...] = ()         # explicit validation documents (file names or relative paths)
    seed: int = 42
    template: str = "gemma3"
    cutoff_len: int = 12000
    max_image_side: int | None = None      # resize copies for the student (Gemma 3 sees 896x896)
    system_prompt: str | None = None
    per_task: bool = True                  # also <name>_<task>_<split> datasets

    def __post_init__(self) -> None:
        if not (self.run_dir / "run.sqlite").is_file():
            raise ConfigError(f"{self.run_dir} is not a docdistill run folder (no run.sqlite); "
                              "run python -m pipeline.distill first")
        if not 0 <= self.val_fraction < 1 or not 0 <= self.test_fraction < 1 or \
                self.val_fraction + self.test_fraction >= 1:
            raise ConfigError("--val-fraction and --test-fraction must be in [0, 1) and leave room for training")
        if not self.name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"--name must be letters, digits, '-' or '_', got {self.name!r}")
        if self.max_image_side is not None and self.max_image_side < 64:
            raise ConfigError("--max-image-side must be >= 64")


@dataclass
class Collected:
    samples: list[tuple[PageRecord, str, dict, str]] = field(default_factory=list)  # page, task, label, prompt
    dropped: Counter = field(default_factory=Counter)     # reason -> count
    task_meta: dict[str, dict] = field(default_factory=dict)
    teachers: Counter = field(default_factory=Counter)


def collect(store: RunStore, cfg: DatasetConfig) -> Collected:
    """Each page's newest valid label per task; everything else counted as dropped_<reason>."""
    pages = {(p.doc_id, p.page_index): p for p in store.iter_pages(PageStatus.RENDERED)}
    tasks = store.tasks()
    newest: dict[tuple[str, int, str], object] = {}
    failed: dict[tuple[str, int, str], str] = {}
    for label in store.iter_labels():
        if cfg.tasks and label.task not in cfg.tasks:
            continue
        if cfg.teacher and label.teacher != cfg.teacher:
            continue
        key = (label.doc_id, label.page_index, label.task)
        if label.outcome == "ok":
            newest[key] = label   # ordered by created_at: the last one wins
        else:
            failed[key] = label.outcome
    out = Collected()
    for key, outcome in failed.items():
        if key not in newest:
            out.dropped[f"outcome_{outcome}"] += 1
    for (doc_id, page_index, task), label in sorted(newest.items()):
        page = pages.get((doc_id, page_index))
        definition = tasks.get((label.prompt_hash, label.schema_hash))
        if page is None:
            out.dropped["page_not_rendered"] += 1
            continue
        if definition is None:
            out.dropped["task_definition_missing"] += 1
            continue
        out.samples.append((page, task, label.label, definition["student_prompt"]))
        out.teachers[f"{label.teacher}/{label.model}"] += 1
        out.task_meta.setdefault(task, {"prompt_hash": label.prompt_hash, "schema_hash": label.schema_hash})
    if cfg.tasks:
        missing = set(cfg.tasks) - {t for _, t, _, _ in out.samples} - {k[2] for k in failed}
        if missing:
            raise ConfigError(f"the run has no labels for task(s) {', '.join(sorted(missing))}")
    return out


def split_documents(store: RunStore, cfg: DatasetConfig, doc_ids: set[str]) -> tuple[dict[str, str], dict]:
    """doc_id -> split, and the leakage report."""
    forced: set[str] = set()
    if cfg.val_pdfs:
        by_name: dict[str, set[str]] = defaultdict(set)
        for doc_id in doc_ids:
            for path in store.document_paths(doc_id):
                by_name[path].add(doc_id)
                by_name[Path(path).name].add(doc_id)
        unknown = [n for n in cfg.val_pdfs if n not in by_name]
        if unknown:
            raise ConfigError(f"--val-pdfs: {', '.join(unknown)} not among the run's labelled documents")
        forced = set().union(*(by_name[n] for n in cfg.val_pdfs))
    hashes = [(p.doc_id, p.phash) for p in store.iter_pages(PageStatus.RENDERED) if p.doc_id in doc_ids]
    pairs = near_duplicate_pairs(hashes)
    groups = group_documents(doc_ids, pairs)
    val_fraction = 0.0 if cfg.val_pdfs else cfg.val_fraction
    split_of = assign_splits(groups, val_fraction, cfg.test_fraction, cfg.seed, forced)
    report = {"documents_in_several_splits": 0, **leakage(split_of, pairs),
              "near_duplicate_groups": sum(1 for m in groups.values() if len(m) > 1)}
    return split_of, report


def iter_samples(collected: Collected, split_of: dict[str, str], cfg: DatasetConfig) -> Iterator[Sample]:
    for page, task, label, prompt in collected.samples:
        answer = label_text(label)
        tokens = (image_tokens(cfg.template, page.width, page.height) + estimate_tokens(prompt)
                  + estimate_tokens(answer) + 16)
        yield Sample(split_of[page.doc_id], task, page.doc_id, page.page_index, page.image_path, prompt, answer,
                     tokens)


def write_dataset(cfg: DatasetConfig, store: RunStore) -> dict:
    """Build the dataset folder; returns the summary (also written as stats.json and manifest.json)."""
    started = time.perf_counter()
    collected = collect(store, cfg)
    split_of, leak = split_documents(store, cfg, {p.doc_id for p, _, _, _ in collected.samples})
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    stats = SplitStats()
    dropped = Counter(collected.dropped)
    with ExitStack() as files:
        writers: dict[str, _JsonArrayWriter] = {}

        def writer(stem: str) -> _JsonArrayWriter:
            if stem not in writers:
                writers[stem] = files.enter_context(_JsonArrayWriter(cfg.out_dir / f"{stem}.json"))
            return writers[stem]

        for sample in iter_samples(collected, split_of, cfg):
            if sample.tokens > cfg.cutoff_len:
                dropped["too_long_for_cutoff_len"] += 1
                continue
            source = cfg.run_dir / sample.image
            if not source.is_file():
                dropped["image_missing"] += 1
                continue
            target = Path(sample.image.replace(".png", ".jpg") if cfg.max_image_side else sample.image)
            place_image(source, cfg.out_dir / target, cfg.max_image_side)
            record = sample.record(cfg.system_prompt)
            record["images"] = [target.as_posix()]
            writer(f"{cfg.name}_{sample.split}").write(record)
            if cfg.per_task:
                writer(f"{cfg.name}_{sample.task}_{sample.split}").write(record)
            stats.add(sample, json.loads(sample.answer))
    entries = {stem: dataset_info_entry(f"{stem}.json", bool(cfg.system_prompt)) for stem in sorted(writers)}
    merge_dataset_info(cfg.out_dir / "dataset_info.json", entries)
    summary = {
        "version": __version__, "dataset_dir": str(cfg.out_dir), "run_dir": str(cfg.run_dir), "name": cfg.name,
        "datasets": sorted(writers), "splits": stats.to_dict(), "dropped": dict(sorted(dropped.items())),
        "leakage": leak, "seed": cfg.seed, "val_fraction": cfg.val_fraction, "test_fraction": cfg.test_fraction,
        "val_pdfs": list(cfg.val_pdfs), "teachers": dict(collected.teachers), "tasks": collected.task_meta,
        "template": cfg.template, "cutoff_len": cfg.cutoff_len, "seconds": round(time.perf_counter() - started, 3)}
    _write_json(cfg.out_dir / "stats.json", {k: summary[k] for k in ("splits", "dropped", "leakage")})
    _write_json(cfg.out_dir / "manifest.json",
                {k: v for k, v in summary.items() if k not in ("splits", "seconds")} |
                {"created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "counts": {s: d["records"] for s, d in summary["splits"].items()}})
    return summary


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


class _JsonArrayWriter:
    """Writes a JSON array one element at a time (atomically renamed into place on close)."""

    def __init__(self, path: Path):
        self.path, self.tmp = path, path.with_name(f".{path.name}.tmp")
        self.count = 0

    def __enter__(self) -> _JsonArrayWriter:
        self.fh = open(self.tmp, "w", encoding="utf-8")
        self.fh.write("[")
        return self

    def write(self, record: dict) -> None:
        self.fh.write(("\n" if self.count == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
        self.count += 1

    def __exit__(self, exc_type, *exc) -> None:
        self.fh.write("\n]\n")
        self.fh.close()
        if exc_type is None:
            self.tmp.replace(self.path)
        else:
            self.tmp.unlink(missing_ok=True)
