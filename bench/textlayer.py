"""The textlayer teacher through the whole label stage, before and after, on the same pages in one run.

    python bench/textlayer.py [PDF_DIR] [--baseline REV] [--repeat 3] [--large] [--json]

Inputs: PDF_DIR (default ../shared/corpus/pdfs with its MANIFEST passwords), the generated 352-page
book of bench/render.py and, with --large, a 3,000-page set (ten generated books). Each input is
rendered once (not timed); then ``label_pages`` with ``--teacher textlayer --ocr-fallback never``
(content + metadata: the text layer alone, so both trees label the same way)
runs in a fresh process on a copy of the run folder with no labels, once with this tree's code and
once with REV's (``git archive REV pipeline prompts``, default the commit before the speedups), alternating,
``--repeat`` times; the median is reported, in wall seconds and in the process's CPU seconds (on a
shared machine the CPU time is the steadier figure). The labels of both are compared: every stored
outcome, label, warning and detail must be identical.

Target (issue G): >= 20 pages/s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CODE = Path(os.environ.get("DOCDISTILL_CODE", REPO))   # whose pipeline/ a worker imports
sys.path.insert(0, str(CODE))

BASELINE = "ea6ee89"   # the last commit before the textlayer/label-stage speedups


def worker(run_dir: Path, pdf_dir: Path, passwords_file: Path | None) -> None:
    """Label every rendered page of run_dir with textlayer; print timings and the labels' digest."""
    from pipeline.label.stage import LabelConfig, label_pages
    from pipeline.render.config import RenderRunConfig
    from pipeline.store import RunStore
    from pipeline.tasks import resolve_tasks
    from pipeline.teachers import TeacherSettings, make_teacher

    by_name = json.loads(passwords_file.read_text()) if passwords_file else {}
    cfg = RenderRunConfig(pdf_dir=pdf_dir, run_dir=run_dir, passwords_by_name=by_name)
    # The text layer alone, as before the OCR fallback existed (older trees have no such setting).
    settings = TeacherSettings(ocr_fallback="never") if hasattr(TeacherSettings(), "ocr_fallback") \
        else TeacherSettings()
    teacher = make_teacher("textlayer", settings)
    label_cfg = LabelConfig(tasks=tuple(resolve_tasks(["content", "metadata"])))
    with RunStore(run_dir) as store:
        wall, cpu = time.perf_counter(), time.process_time()
        label_pages(cfg, label_cfg, store, teacher, progress=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        pages = store.count_pages().get("rendered", 0)
    teacher.close()
    print(json.dumps({"pages": pages, "wall_s": wall, "cpu_s": cpu}))


def labels_of(run_dir: Path) -> list[tuple]:
    with sqlite3.connect(run_dir / "run.sqlite") as conn:
        return conn.execute("SELECT request_key, outcome, label_json, warnings, detail FROM labels "
                            "ORDER BY request_key").fetchall()


def render(pdf_dir: Path, run_dir: Path, passwords: dict) -> None:
    from pipeline.render.config import RenderConfig, RenderRunConfig
    from pipeline.render.stage import render_folder
    from pipeline.store import RunStore

    cfg = RenderRunConfig(pdf_dir=pdf_dir, run_dir=run_dir, render=RenderConfig(longest_side=512),
                          passwords_by_name=passwords, workers=2)
    with RunStore(run_dir) as store:
        render_folder(cfg, store, progress=False)


def timed(code: Path, rendered: Path, pdf_dir: Path, passwords_file: Path | None, tmp: Path) -> tuple[dict, list]:
    run_dir = tmp / f"label-{time.monotonic_ns()}"
    shutil.copytree(rendered, run_dir)
    env = {**os.environ, "DOCDISTILL_CODE": str(code)}
    cmd = [sys.executable, __file__, "--worker", str(run_dir), str(pdf_dir)]
    if passwords_file:
        cmd.append(str(passwords_file))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"worker failed ({code}):\n{proc.stderr[-3000:]}")
    out = proc.stdout
    result = json.loads(out.strip().splitlines()[-1])
    labels = labels_of(run_dir)
    shutil.rmtree(run_dir)
    return result, labels


def measure(label: str, pdf_dir: Path, passwords: dict, baseline: Path | None, repeat: int, tmp: Path) -> dict:
    rendered = tmp / "rendered"
    shutil.rmtree(rendered, ignore_errors=True)
    render(pdf_dir, rendered, passwords)
    passwords_file = None
    if passwords:
        passwords_file = tmp / "passwords.json"
        passwords_file.write_text(json.dumps(passwords))
    variants = {"after (this tree)": REPO} | ({f"before ({BASELINE_REV})": baseline} if baseline else {})
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    labels: dict[str, list] = {}
    for _ in range(repeat):   # alternating, so a busy spell on the machine hits both
        for name, code in variants.items():
            result, labels[name] = timed(code, rendered, pdf_dir, passwords_file, tmp)
            runs[name].append(result)
    rows = []
    for name, results in runs.items():
        pages = results[0]["pages"]
        wall = statistics.median(r["wall_s"] for r in results)
        cpu = statistics.median(r["cpu_s"] for r in results)
        rows.append({"variant": name, "pages": pages, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                     "pages_per_s_wall": round(pages / wall, 1), "pages_per_s_cpu": round(pages / cpu, 1)})
    same = len(set(map(lambda v: json.dumps(v, ensure_ascii=False), labels.values()))) == 1
    return {"input": label, "rows": rows, "labels": len(next(iter(labels.values()))),
            "labels_identical": same if baseline else None}


def baseline_tree(rev: str, tmp: Path) -> Path | None:
    target = tmp / "baseline"
    target.mkdir()
    try:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "pipeline", "prompts"], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"no baseline: cannot archive {rev} from git ({exc}); measuring this tree only", file=sys.stderr)
        return None
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def main() -> None:
    global BASELINE_REV
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]) if len(sys.argv) > 4 else None)
        return
    corpus = REPO.parent / "shared" / "corpus" / "pdfs"
    parser = argparse.ArgumentParser()
    parser.add_argument("pdf_dir", type=Path, nargs="?", default=corpus if corpus.is_dir() else REPO / "data" / "samples")
    parser.add_argument("--baseline", default=BASELINE, help=f"git revision to compare with (default {BASELINE})")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--large", action="store_true", help="also a 3,000-page set (ten generated books)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    BASELINE_REV = args.baseline
    sys.path.insert(0, str(REPO / "bench"))
    import pymupdf
    from render import make_book

    manifest = args.pdf_dir / "MANIFEST.json"
    passwords = ({e["file"]: e["password"] for e in json.loads(manifest.read_text()) if e["password"]}
                 if manifest.is_file() else {})
    report = {"baseline": None if args.no_baseline else args.baseline, "repeat": args.repeat, "inputs": [],
              "cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        baseline = None if args.no_baseline else baseline_tree(args.baseline, tmp)
        books = tmp / "book"
        books.mkdir()
        make_book(books / "book.pdf")
        inputs = [(f"folder: {args.pdf_dir}", args.pdf_dir, passwords), ("352-page book", books, {})]
        if args.large:
            large = tmp / "large"
            large.mkdir()
            for k in range(10):
                make_book(tmp / "one.pdf", pages=300 + k)
                with pymupdf.open(tmp / "one.pdf") as doc:   # every page of every book distinct
                    for page in doc:
                        page.insert_text((400, 815), f"Volume {k + 1}", fontsize=9)
                    doc.save(large / f"book{k}.pdf")
            inputs.append(("3,000-page set (10 books)", large, {}))
        for label, folder, pw in inputs:
            report["inputs"].append(measure(label, folder, pw, baseline, args.repeat, tmp))
    if args.json:
        print(json.dumps(report))
        return
    print(f"{report['cpus']} CPUs, load average {report['load_before']:.1f} before the runs")
    for item in report["inputs"]:
        print(f"input {item['input']}  ({item['labels']} labels, median of {args.repeat}; labels identical: "
              f"{item['labels_identical']})")
        print(f"  {'variant':<24} {'pages':>6} {'wall s':>8} {'cpu s':>8} {'pages/s wall':>13} {'pages/s cpu':>12}")
        for r in item["rows"]:
            print(f"  {r['variant']:<24} {r['pages']:>6} {r['wall_s']:>8} {r['cpu_s']:>8} "
                  f"{r['pages_per_s_wall']:>13} {r['pages_per_s_cpu']:>12}")


BASELINE_REV = BASELINE

if __name__ == "__main__":
    main()
