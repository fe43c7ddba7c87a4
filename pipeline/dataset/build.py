"""The dataset stage: a run's valid labels -> a self-contained LLaMA-Factory dataset folder.

``collect`` picks each page's newest valid label per task and counts what it leaves out by reason;
``split_documents`` assigns whole documents (near-duplicates together) to splits; ``write_dataset``
streams the records to ShareGPT JSON files, places images and writes dataset_info.json, stats and
a manifest. Records are streamed, so memory holds one record at a time, not the dataset.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from pipeline import __version__
from pipeline.errors import ConfigError
from pipeline.dataset.lengths import Lengths, lengths_for
from pipeline.dataset.redacted import RedactedMismatches
from pipeline.dataset.review import GOLDEN, HELD_OUT, REJECTED, Reviewed, golden_groups, golden_record
from pipeline.dataset.sharegpt import (JsonArrayWriter, Sample, dataset_info_entry, escape_media_tags,
                                       merge_dataset_info, place_image)
from pipeline.dataset.split import assign_splits, group_documents, leakage, near_duplicate_pairs
from pipeline.dataset.stats import SplitStats
from pipeline.store import RunStore
from pipeline.student.manifest import student_section

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
    golden: bool = False                   # reviewed (accepted, edited) pages -> <name>_golden, never trained on
    model: str | None = None               # model_name_or_path: a readable folder sets the length estimate
    image_max_pixels: int | None = None
    train_redacted_mismatches: bool = False  # redaction_mismatch pages: the redacted image sent + its label

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


@dataclass(frozen=True)
class PageInfo:
    image_path: str
    width: int
    height: int
    phash: str
    image_sha256: str


class LabelledPage(NamedTuple):
    """One page's newest valid label under one task, as the dataset copies it."""

    doc_id: str
    page_index: int
    task: str
    label_json: str            # the answer exactly as stored (the assistant turn's text)
    prompt: str                # the task's student prompt
    golden: bool = False       # a reviewed page of the golden set (--golden)
    image: str = ""            # the image to train on instead of the page's (a redacted one)


@dataclass
class Collected:
    pages: dict[tuple[str, int], PageInfo] = field(default_factory=dict)
    samples: list[LabelledPage] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)     # reason -> count
    task_meta: dict[str, dict] = field(default_factory=dict)
    teachers: Counter = field(default_factory=Counter)
    reviewed: Reviewed = field(default_factory=lambda: Reviewed({}))


def collect(store: RunStore, cfg: DatasetConfig) -> Collected:
    """Each page's newest valid label per task; everything else counted as dropped_<reason>.

    A label belongs to an image: it is stored once, on the page that was sent, and every page
    that renders to the same image (the label stage sends that image once) gets it.
    Label JSON stays text: it was written by ``json.dumps(ensure_ascii=False)``, exactly the
    assistant turn's format, so decoding and re-encoding it would only cost time.
    """
    rows = store.rendered_page_rows()
    out = Collected(pages={(r["doc_id"], r["page_index"]): PageInfo(r["image_path"], r["width"], r["height"],
                                                                    r["phash"], r["image_sha256"]) for r in rows})
    prompts = {key: row["student_prompt"] for key, row in store.tasks().items()}
    newest: dict[tuple[str, str], sqlite3.Row] = {}       # (image sha256, task) -> its newest valid label
    failed: dict[tuple[str, str], str] = {}
    mismatches = RedactedMismatches(store.redacted_images(), cfg.run_dir, cfg.train_redacted_mismatches)
    not_rendered: set[tuple[str, int, str]] = set()
    for row in store.label_rows():
        if (cfg.tasks and row["task"] not in cfg.tasks) or (cfg.teacher and row["teacher"] != cfg.teacher):
            continue
        page = out.pages.get((row["doc_id"], row["page_index"]))
        if page is None:
            if row["outcome"] == "ok":
                not_rendered.add((row["doc_id"], row["page_index"], row["task"]))
            continue
        key = (page.image_sha256, row["task"])
        if row["outcome"] == "ok":
            newest[key] = row   # oldest first: the last one wins
            mismatches.valid(key)
        elif not mismatches.take(row, key, newest):
            failed[key] = row["outcome"]
    if not_rendered:
        out.dropped["page_not_rendered"] = len(not_rendered)
    out.reviewed = reviewed = Reviewed(store.review_decisions(), cfg.golden)   # a person's verdict wins
    if cfg.tasks:
        reviewed.decisions = {key: row for key, row in reviewed.decisions.items() if key[1] in cfg.tasks}
    tasks = sorted({task for _, task in newest} | {task for _, task in failed} | reviewed.tasks())
    for (doc_id, page_index), page in sorted(out.pages.items()):
        for task in tasks:
            picked = reviewed.pick(page.image_sha256, task, newest.get((page.image_sha256, task)))
            if picked is None:
                if (page.image_sha256, task) in failed:
                    out.dropped[f"outcome_{failed[page.image_sha256, task]}"] += 1
                continue
            if picked == REJECTED:
                out.dropped[REJECTED] += 1
                continue
            prompt = prompts.get((picked.prompt_hash, picked.schema_hash))
            if prompt is None:
                out.dropped["task_definition_missing"] += 1
                continue
            image = mismatches.image((page.image_sha256, task), (page.image_sha256, task) in reviewed.decisions)
            out.samples.append(LabelledPage(doc_id, page_index, task, picked.label_json, prompt, picked.golden, image))
            out.teachers[picked.teacher + (" (redacted image, placeholders)" if image else "")] += 1
            out.task_meta.setdefault(task, {"prompt_hash": picked.prompt_hash, "schema_hash": picked.schema_hash})
    if cfg.tasks:
        missing = set(cfg.tasks) - set(tasks)
        if missing:
            raise ConfigError(f"the run has no labels for task(s) {', '.join(sorted(missing))}")
    return out


def split_documents(store: RunStore, cfg: DatasetConfig, collected: Collected) -> tuple[dict[str, str], dict]:
    """doc_id -> split, and the leakage report."""
    doc_ids = {s.doc_id for s in collected.samples}
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
    pairs = near_duplicate_pairs((doc, info.phash) for (doc, _), info in collected.pages.items() if doc in doc_ids)
    golden_of, groups = golden_groups(group_documents(doc_ids, pairs), {s.doc_id for s in collected.samples if s.golden})
    val_fraction = 0.0 if cfg.val_pdfs else cfg.val_fraction
    split_of = assign_splits(groups, val_fraction, cfg.test_fraction, cfg.seed, forced) | golden_of
    report = {"documents_in_several_splits": 0, **leakage(split_of, pairs),
              "near_duplicate_groups": sum(1 for m in groups.values() if len(m) > 1)}
    return split_of, report


def iter_samples(collected: Collected, split_of: dict[str, str], cfg: DatasetConfig,
                 lengths: Lengths) -> Iterator[Sample]:
    prompt_tokens: dict[str, int] = {}
    for doc_id, page_index, task, label_json, prompt, golden, image in collected.samples:
        page = collected.pages[(doc_id, page_index)]
        split = split_of[doc_id] if split_of[doc_id] != GOLDEN or golden else HELD_OUT
        answer = escape_media_tags(label_json)
        if prompt not in prompt_tokens:
            prompt_tokens[prompt] = lengths.text_tokens(prompt)
        tokens = lengths.sample_tokens(page.width, page.height, "", answer) + prompt_tokens[prompt]
        yield Sample(split, task, doc_id, page_index, image or page.image_path, prompt, answer, tokens)


def dataset_image_path(run_image: str, resized: bool) -> str:
    """Where a run's page image goes in the dataset: 256 shard folders by hash prefix, so a million
    pages make 256 folders, not one per document (creating folders is the slow part of this loop).

    >>> dataset_image_path("images/0a1b2c3d4e5f6a7b/p0001.png", resized=True)
    'images/0a/0a1b2c3d4e5f6a7b_p0001.jpg'
    """
    _, doc, name = run_image.split("/")
    if resized and name.endswith(".png"):
        name = name[:-4] + ".jpg"
    return f"images/{doc[:2]}/{doc}_{name}"


def write_dataset(cfg: DatasetConfig, store: RunStore) -> dict:
    """Build the dataset folder; returns the summary (also written as stats.json and manifest.json)."""
    started = time.perf_counter()
    collected = collect(store, cfg)
    split_of, leak = split_documents(store, cfg, collected)
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    stats = SplitStats()
    dropped = Counter(collected.dropped)
    made_dirs: set[str] = set()
    run_dir, out_dir = f"{cfg.run_dir}/", f"{cfg.out_dir}/"
    lengths = lengths_for(cfg.model, cfg.template, cfg.image_max_pixels)
    with ExitStack() as files:
        writers: dict[str, JsonArrayWriter] = {}

        def writer(stem: str) -> JsonArrayWriter:
            if stem not in writers:
                writers[stem] = files.enter_context(JsonArrayWriter(cfg.out_dir / f"{stem}.json"))
            return writers[stem]

        for sample in iter_samples(collected, split_of, cfg, lengths):
            if sample.split == HELD_OUT:       # another page of a golden document: not trained on
                dropped[HELD_OUT] += 1
                continue
            if sample.tokens > cfg.cutoff_len:
                dropped["too_long_for_cutoff_len"] += 1
                continue
            image = dataset_image_path(sample.image, bool(cfg.max_image_side))
            folder = image.rpartition("/")[0]
            if folder not in made_dirs:
                os.makedirs(out_dir + folder, exist_ok=True)
                made_dirs.add(folder)
            try:  # strings, not Paths: this loop runs once per record
                place_image(run_dir + sample.image, out_dir + image, cfg.max_image_side)
            except FileNotFoundError:
                dropped["image_missing"] += 1
                continue
            line = sample.record_json(image, cfg.system_prompt)
            line = golden_record(line) if sample.split == GOLDEN else line
            writer(f"{cfg.name}_{sample.split}").write(line)
            if cfg.per_task:
                writer(f"{cfg.name}_{sample.task}_{sample.split}").write(line)
            stats.add(sample, json.loads(sample.answer))
    entries = {stem: dataset_info_entry(f"{stem}.json", bool(cfg.system_prompt)) for stem in sorted(writers)}
    merge_dataset_info(cfg.out_dir / "dataset_info.json", entries)
    summary = {
        "version": __version__, "dataset_dir": str(cfg.out_dir), "run_dir": str(cfg.run_dir), "name": cfg.name,
        "datasets": sorted(writers), "splits": stats.to_dict(), "dropped": dict(sorted(dropped.items())),
        "leakage": leak, "seed": cfg.seed, "val_fraction": cfg.val_fraction, "test_fraction": cfg.test_fraction,
        "val_pdfs": list(cfg.val_pdfs), "teachers": dict(collected.teachers), "tasks": collected.task_meta,
        "template": cfg.template, "cutoff_len": cfg.cutoff_len, "length_estimate": lengths.source,
        "seconds": round(time.perf_counter() - started, 3),
        "review": collected.reviewed.summary(stats.to_dict().get(GOLDEN, {}).get("records", 0), dropped[HELD_OUT],
                                             sum(1 for s in split_of.values() if s == GOLDEN))}
    _write_json(cfg.out_dir / "stats.json", {k: summary[k] for k in ("splits", "dropped", "leakage")})
    _write_json(cfg.out_dir / "manifest.json",
                {k: v for k, v in summary.items() if k not in ("splits", "seconds")} |
                {"created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "counts": {s: d["records"] for s, d in summary["splits"].items()},
                 # what python -m pipeline.extract must reproduce: render settings, image size, prompts
                 "student": student_section(store, collected.samples, collected.task_meta, cfg.max_image_side,
                                            cfg.system_prompt, cfg.template)})
    return summary


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
