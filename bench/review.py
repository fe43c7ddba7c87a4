"""Review app latency: how long the next item takes to load, on a small run and a 10,000-page run.

    python bench/review.py [--sizes 100,10000] [--items 300] [--json]

Setup (not timed): a run store with N rendered pages and one content label each (a tenth of them
salvaged, a twentieth with a foreign script, a twentieth held back by the privacy gate), then the
review app's start (queues written to the store, also reported). Timed with Starlette's TestClient
against the real app: (a) ``GET /api/item?after=`` walking the queues, the request the page makes
for "next"; (b) a skip verdict followed by that next-item load, what a reviewer's key press costs.
The small run is the baseline: the per-item time must not grow with the run (target < 150 ms).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MARKDOWN = "# Statement\n\n| Date | Amount |\n|---|---|\n" + "".join(f"| 2025-03-{d:02d} | {d * 113.5:,.2f} |\n"
                                                                  for d in range(1, 15))


def setup(run_dir: Path, n: int) -> None:
    from pipeline.records import LabelRecord, PageRecord, PageStatus
    from pipeline.store import RunStore
    from pipeline.tasks import resolve_tasks

    (task,) = resolve_tasks(["content"])
    label = {"languages": ["en"], "direction": "ltr", "page_number": None, "has_tables": True,
             "has_handwriting": False, "elements": [{"kind": "table", "text": None, "level": None}],
             "markdown": MARKDOWN}
    with RunStore(run_dir) as store, store.transaction():
        store.put_task(task.name, task.prompt_hash, task.schema_hash, task.student_prompt, task.teacher_template,
                       task.model.model_json_schema())
        docs = [f"{d:016x}" for d in range(n // 10)]
        pages = [PageRecord(doc, p, PageStatus.RENDERED, "k", f"images/{doc}/p{p + 1:04d}.jpg", f"{doc}{p:048x}",
                            1086, 1536) for doc in docs for p in range(10)]
        store.put_pages(pages)
        for i, page in enumerate(pages):
            outcome, warnings, kw = "ok", [], {"label": label}
            if i % 10 == 1:
                warnings = ["salvaged:code_fence"]
            elif i % 20 == 2:
                warnings = ["foreign_script:Cyrillic"]
            elif i % 20 == 3:
                outcome, kw = "sensitive_blocked", {"detail": "iban"}
            store.put_label(LabelRecord(f"key{i}", page.doc_id, page.page_index, "content", "bench", "m",
                                        task.prompt_hash, task.schema_hash, outcome, warnings=warnings,
                                        created_at=1_700_000_000 + i, **kw))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def measure(n: int, items: int) -> dict:
    from starlette.testclient import TestClient

    from pipeline.review.setup import ReviewConfig, review_app

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        setup(run, n)
        started = time.perf_counter()
        app, token, counts = review_app(ReviewConfig(run, "bench", sample_size=50))
        start_s = time.perf_counter() - started
        client = TestClient(app, base_url="http://127.0.0.1", headers={"X-Review-Token": token})
        queues = [q for q, c in counts.items() if c and q != "manual"]   # manual: a prefill, measured apart
        walk, decide = [], []
        with client:
            queue, position = queues[0], -1
            client.get("/api/item", params={"queue": queue, "after": position})          # warm the thread's store
            for _ in range(items):
                t = time.perf_counter()
                found = client.get("/api/item", params={"queue": queue, "after": position}).json()["item"]
                walk.append(time.perf_counter() - t)
                if found is None or found["queue"] == "manual":
                    queue, position = queues[0], -1
                    continue
                queue, position = found["queue"], found["position"]
            queue = queues[0]
            found = client.get("/api/item", params={"queue": queue, "after": -1}).json()["item"]
            for _ in range(min(items, 100)):
                if found is None or found["queue"] == "manual":
                    break
                t = time.perf_counter()
                client.post("/api/verdict", json={"queue": found["queue"], "position": found["position"],
                                                  "verdict": "reject", "reason": "bench", "revision": found["revision"]})
                found = client.get("/api/item", params={"queue": found["queue"], "after": found["position"]}).json()["item"]
                decide.append(time.perf_counter() - t)
    ms = lambda values: {"p50": round(statistics.median(values) * 1000, 1), "p90": round(percentile(values, 90) * 1000, 1),
                         "max": round(max(values) * 1000, 1)}
    return {"pages": n, "queues": counts, "start_s": round(start_s, 2), "next_item_ms": ms(walk),
            "verdict_then_next_ms": ms(decide), "requests": len(walk) + len(decide)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,10000")
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [measure(int(n), args.items) for n in args.sizes.split(",")]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(f"{r['pages']:>6} pages: start {r['start_s']:.2f} s; next item p50 {r['next_item_ms']['p50']} ms, "
              f"p90 {r['next_item_ms']['p90']} ms, max {r['next_item_ms']['max']} ms; verdict + next p50 "
              f"{r['verdict_then_next_ms']['p50']} ms, p90 {r['verdict_then_next_ms']['p90']} ms "
              f"({r['requests']} requests; queues {r['queues']})")


if __name__ == "__main__":
    main()
