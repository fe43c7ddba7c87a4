"""Label-engine throughput against the local provider stub (no network, no key, no cost).

    python bench/teacher.py [--json] [--quick]

For each case, the stub answers after a fixed latency L and enforces R requests per minute (a
429 with Retry-After past it); N pages are labelled with ``--concurrency C --rpm R``. Wall time
is compared with the ideal max(N*L/C, N*60/R): target <= 1.10x. Then, with L = 0, the per-page
overhead: the whole label stage (planning, reading image and text layer, scheduling, checking,
one SQLite transaction per answer) against a bare loop of ``teacher.ask`` over the same pages.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pymupdf  # noqa: E402

from pipeline.render.config import RenderConfig, RenderRunConfig  # noqa: E402
from pipeline.label.stage import LabelConfig, label_pages  # noqa: E402
from pipeline.label.sources import PageSources  # noqa: E402
from pipeline.render.stage import render_folder  # noqa: E402
from pipeline.store import RunStore  # noqa: E402
from pipeline.tasks import resolve_tasks  # noqa: E402
from pipeline.teachers import TeacherSettings, make_teacher  # noqa: E402
from tests.support.provider_stub import ProviderStub  # noqa: E402
from tests.label.test_label import valid_answer  # noqa: E402

CASES = [  # (name, pages N, latency L s, concurrency C, rpm R or None); N a multiple of C
    ("latency 0.2s", 320, 0.2, 16, None),      # a stress case: real teachers take seconds per page
    ("latency 1s", 320, 1.0, 32, None),
    ("rpm-bound", 150, 0.2, 16, 1200),
    ("both near", 200, 0.5, 8, 1200),
]


def _serve(latency: float, rpm: float | None, pipe, responder=valid_answer, models=None) -> None:
    with ProviderStub(responder, latency=latency, rpm_limit=rpm, models=models) as stub:
        pipe.send(stub.url)
        pipe.recv()                                   # until the bench says stop
        pipe.send({"requests": len(stub.requests), "rejected": stub.rejected})


@contextlib.contextmanager
def stub_process(latency: float, rpm: float | None, responder=valid_answer, models: list[str] | None = None):
    """The stub in its own process, as a real provider is: its CPU and GIL are not ours to pay for.

    Its pauses still show in our wall time: forked from this process, the stub inherits its garbage
    collector state, and in the first case (forked right after the imports) it usually runs one
    full collection mid-run, ~40 ms with the stub's GIL held, about +0.01 on that case's ratio.
    """
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.get_context("fork").Process(target=_serve, args=(latency, rpm, child, responder, models),
                                                       daemon=True)
    proc.start()
    counts: dict = {}
    try:
        yield parent.recv(), counts
    finally:
        parent.send("stop")
        counts.update(parent.recv())
        proc.join(5)


def make_folder(root: Path, pages: int) -> RenderRunConfig:
    doc = pymupdf.open()
    for i in range(pages):
        doc.new_page().insert_text((72, 100), f"Invoice {i} - page {i + 1}", fontsize=14)
    (root / "in").mkdir(parents=True)
    doc.save(root / "in" / "book.pdf")
    cfg = RenderRunConfig(pdf_dir=root / "in", run_dir=root / "run", render=RenderConfig(longest_side=256))
    with RunStore(cfg.run_dir) as store:
        render_folder(cfg, store, progress=False)
    return cfg


def run_case(pages: int, latency: float, concurrency: int, rpm: float | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp, stub_process(latency, rpm) as (url, counts):
        cfg = make_folder(Path(tmp), pages)
        teacher = make_teacher("gemini", TeacherSettings(base_url=url, timeout_s=30))
        label_cfg = LabelConfig(tasks=tuple(resolve_tasks(["content"])), concurrency=concurrency, rpm=rpm,
                                max_attempts=5)
        with RunStore(cfg.run_dir) as store, PageSources(cfg, store) as sources:
            started = time.perf_counter()
            summary = label_pages(sources, label_cfg, store, teacher, progress=False)
            wall = time.perf_counter() - started
        teacher.close()
    ideal = max(pages * latency / concurrency, pages * 60 / rpm if rpm else 0.0)
    return {"pages": pages, "latency_s": latency, "concurrency": concurrency, "rpm": rpm,
            "wall_s": round(wall, 3), "ideal_s": round(ideal, 3), "ratio": round(wall / ideal, 3),
            "requests": summary.requests, "rejected_429": counts["rejected"],
            "ok": summary.to_dict()["labels"].get("content", {}).get("ok", 0)}


def overhead(pages: int) -> dict:
    """ms per page: the label stage vs a bare teacher.ask loop (SDK + HTTP + stub), latency 0, 1 at a time."""
    with tempfile.TemporaryDirectory() as tmp, stub_process(0.0, None) as (url, _):
        cfg = make_folder(Path(tmp), pages)
        task = resolve_tasks(["content"])[0]
        teacher = make_teacher("gemini", TeacherSettings(base_url=url, timeout_s=30))
        with RunStore(cfg.run_dir) as store:
            sources = PageSources(cfg, store)
            inputs = [sources.page_input(p, False)[0] for p in store.iter_pages()]
            sources.close()
            prompt = task.teacher_prompt(None)
            for page in inputs[:5]:   # warm-up: connection, SDK caches
                teacher.ask(page, task, prompt)
            started = time.perf_counter()
            for page in inputs:
                teacher.ask(page, task, prompt)
            bare = (time.perf_counter() - started) / pages
            started = time.perf_counter()
            with PageSources(cfg, store) as sources:
                label_pages(sources, LabelConfig(tasks=(task,), concurrency=1), store, teacher, progress=False)
            ours = (time.perf_counter() - started) / pages
        teacher.close()
    return {"pages": pages, "bare_ask_ms": round(bare * 1000, 2), "label_stage_ms": round(ours * 1000, 2),
            "overhead_ms": round((ours - bare) * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a quarter of the pages")
    args = parser.parse_args()
    os.environ.setdefault("GEMINI_API_KEY", "bench-key-not-secret")
    scale = 4 if args.quick else 1
    rows = [{"case": name, **run_case(n // scale, lat, c, rpm)} for name, n, lat, c, rpm in CASES]
    cost = overhead(200 // scale)
    if args.json:
        print(json.dumps({"throughput": rows, "overhead": cost}))
        return
    print(f"{'case':<14} {'N':>4} {'L s':>5} {'C':>3} {'R rpm':>6} {'wall s':>7} {'ideal s':>7} {'ratio':>6} "
          f"{'429s':>5} {'ok':>4}")
    for r in rows:
        print(f"{r['case']:<14} {r['pages']:>4} {r['latency_s']:>5} {r['concurrency']:>3} {r['rpm'] or '-':>6} "
              f"{r['wall_s']:>7.2f} {r['ideal_s']:>7.2f} {r['ratio']:>6.3f} {r['rejected_429']:>5} {r['ok']:>4}")
    print(f"overhead at L=0, 1 in flight, {cost['pages']} pages: label stage {cost['label_stage_ms']} ms/page, "
          f"bare teacher.ask {cost['bare_ask_ms']} ms/page -> ours {cost['overhead_ms']} ms/page")


if __name__ == "__main__":
    main()
