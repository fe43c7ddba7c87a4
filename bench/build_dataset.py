"""build_dataset throughput and memory on synthetic labels, side by side with a seed-style baseline.

    python bench/build_dataset.py [--sizes 10000,50000,100000] [--json]

Each size runs in a fresh process (peak RSS is per process). Setup (a run store with N labelled
pages, one tiny image per page) is not timed. Timed: (a) seed-style baseline: every record built
in a list, then one json.dump per split; (b) ours: write_dataset (collect, split with the
near-duplicate guard, stream records, hard-link images, stats, manifest).
Target (issue C): >= 20k records/s, memory not growing with N beyond the records themselves.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MARKDOWN = ("# Quarterly statement\n\n| Date | Description | Amount |\n|---|---|---|\n"
            + "".join(f"| 2025-03-{d:02d} | Transfer to account 4471-{d:04d} | {d * 113.5:,.2f} |\n"
                      for d in range(1, 15)) + "\nBalance carried forward: 48,221.90\n")


def setup(run_dir: Path, n: int) -> None:
    from pipeline.records import LabelRecord, PageRecord, PageStatus
    from pipeline.store import RunStore
    from pipeline.tasks import resolve_tasks

    (task,) = resolve_tasks(["content"])
    image = (REPO / "bench" / "tiny.jpg")
    data = image.read_bytes() if image.exists() else b"\xff\xd8\xff\xd9"
    with RunStore(run_dir) as store, store.transaction():
        store.put_task(task.name, task.prompt_hash, task.schema_hash, task.student_prompt, task.teacher_template,
                       task.model.model_json_schema())
        pages, labels = [], []
        for i in range(n):
            doc_id = hashlib.sha256(f"doc{i // 10}".encode()).hexdigest()
            rel = f"images/{doc_id[:16]}/p{i % 10 + 1:04d}.jpg"
            path = run_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            store.conn.execute("INSERT OR IGNORE INTO documents VALUES (?, ?, 1, 'ok', NULL, '', 10, NULL, 0, "
                               "'{}', 0)", (doc_id, f"doc{i // 10}.pdf"))
            store.conn.execute("INSERT OR IGNORE INTO document_paths VALUES (?, ?)", (doc_id, f"doc{i // 10}.pdf"))
            phash = hashlib.sha256(str(i).encode()).hexdigest()  # distinct, information-rich page hashes
            pages.append(PageRecord(doc_id, i % 10, PageStatus.RENDERED, image_path=rel, width=1187, height=1536,
                                    phash=phash))
            label = {"languages": ["en"], "direction": "ltr", "page_number": str(i % 10 + 1), "has_tables": True,
                     "has_handwriting": False, "elements": [{"kind": "table", "text": None, "level": None}],
                     "markdown": MARKDOWN + f"\nPage id {i}"}
            labels.append(LabelRecord(f"k{i}", doc_id, i % 10, "content", "bench", "m", task.prompt_hash,
                                      task.schema_hash, "ok", label=label, created_at=float(i)))
        store.put_pages(pages)
        for label in labels:
            store.put_label(label)


def baseline(run_dir: Path, out: Path) -> int:
    """The seed notebook's way: all records in memory, one json.dump per split, images copied."""
    import random
    import shutil

    from pipeline.store import RunStore

    with RunStore(run_dir) as store:
        labels = list(store.iter_labels(outcome="ok"))
        student = next(iter(store.tasks().values()))["student_prompt"]
        pages = {(p.doc_id, p.page_index): p for p in store.iter_pages()}
    docs = sorted({label.doc_id for label in labels})
    random.Random(42).shuffle(docs)
    val = set(docs[: len(docs) // 10])
    splits: dict[str, list] = {"train": [], "val": []}
    out.mkdir(parents=True)
    for label in labels:
        image = pages[(label.doc_id, label.page_index)].image_path
        (out / image).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run_dir / image, out / image)
        splits["val" if label.doc_id in val else "train"].append(
            {"conversations": [{"from": "human", "value": "<image>" + student},
                               {"from": "gpt", "value": json.dumps(label.label, ensure_ascii=False)}],
             "images": [image]})
    for split, records in splits.items():
        with open(out / f"data_{split}.json", "w", encoding="utf-8") as fh:
            json.dump(records, fh, ensure_ascii=False, indent=2)
    return len(labels)


def ours(run_dir: Path, out: Path) -> int:
    from pipeline.dataset.build import DatasetConfig, write_dataset
    from pipeline.store import RunStore

    with RunStore(run_dir) as store:
        summary = write_dataset(DatasetConfig(run_dir=run_dir, out_dir=out, per_task=False), store)
    return sum(s["records"] for s in summary["splits"].values())


def memory_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process. Not getrusage's ru_maxrss: Linux carries that
    across exec, so a child would report the parent's peak from the (untimed) setup."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(variant: str, run_dir: Path) -> dict:
    import pipeline.dataset.build  # noqa: F401  imports (OpenCV, NumPy) are not the work being measured

    before = memory_mb("VmRSS")
    out = run_dir.parent / f"ds-{variant}"
    started = time.perf_counter()
    records = (baseline if variant == "baseline" else ours)(run_dir, out)
    seconds = time.perf_counter() - started
    peak = memory_mb("VmHWM")
    return {"variant": variant, "records": records, "seconds": round(seconds, 2),
            "records_per_s": round(records / seconds), "peak_rss_mb": round(peak), "rss_before_mb": round(before)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return
    rows = []
    # Under the repo (bench/out, ignored by git): on this machine /tmp is ten times slower at mkdir.
    scratch = REPO / "bench" / "out"
    scratch.mkdir(parents=True, exist_ok=True)
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(dir=scratch) as tmp:
            setup(Path(tmp) / "run", n)  # in this process: the measured ones start from a cold interpreter
            for variant in ("baseline", "ours"):
                result = subprocess.run([sys.executable, __file__, "--child", variant, f"{tmp}/run"],
                                        capture_output=True, text=True, check=True)
                rows.append({"n": n, **json.loads(result.stdout)})
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{'variant':<10} {'N':>7} {'records':>8} {'s':>7} {'records/s':>10} {'peak RSS MB':>12} {'(at start)':>11}")
    for r in rows:
        print(f"{r['variant']:<10} {r['n']:>7} {r['records']:>8} {r['seconds']:>7} {r['records_per_s']:>10} "
              f"{r['peak_rss_mb']:>12} {r['rss_before_mb']:>11}")


if __name__ == "__main__":
    main()
