"""Extract throughput against the local stub (no network, no model): the whole stage after rendering.

    python bench/extract.py [--json] [--quick]

For each case, the stub (in its own process, as a real server is) answers after a fixed latency L;
N pages are extracted under one task with ``--concurrency C``: planning, the student request (with
``--max-image-side`` in one case: the page decoded, resized and re-encoded per request), the answer
checks, one SQLite transaction per answer, and the per-document outputs. Pages are rendered before
the clock starts. Wall time is compared with the ideal N x L / C: target <= 1.10x.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.teacher import make_folder, stub_process  # noqa: E402
from pipeline.label.stage import LabelConfig  # noqa: E402
from pipeline.student.locality import require_local_endpoint  # noqa: E402
from pipeline.student.run import ExtractConfig, extract_folder  # noqa: E402
from pipeline.student.setup import resolve_setup  # noqa: E402
from pipeline.student.teacher import StudentInputs, StudentTeacher  # noqa: E402
from pipeline.teachers import TeacherSettings  # noqa: E402
from tests.support.student_fixtures import by_task  # noqa: E402

CASES = [  # (name, pages N, latency L s, concurrency C, --max-image-side); N a multiple of C
    ("latency 0.2s", 320, 0.2, 16, None),       # a stress case: a real student takes seconds per page
    ("latency 1s", 320, 1.0, 32, None),
    ("4 in flight", 80, 0.5, 4, None),          # llamafactory-cli api with MAX_CONCURRENT=4
    ("resize 0.2s", 320, 0.2, 16, 128),
]


def run_case(pages: int, latency: float, concurrency: int, max_side: int | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp, stub_process(latency, None, by_task, ["student"]) as (url, counts):
        render = make_folder(Path(tmp), pages)                     # rendered here, before the clock
        setup = resolve_setup(None, None, {"longest_side": render.render.longest_side}, ["content"],
                              max_image_side=max_side or 0)
        assert setup.render.key() == render.render.key()
        cfg = ExtractConfig(render=render, setup=setup, endpoint=require_local_endpoint(url + "/v1"),
                            label=LabelConfig(tasks=setup.tasks, repair=False, concurrency=concurrency,
                                              max_attempts=3, allow_sensitive=True))
        teacher = StudentTeacher(TeacherSettings(model="student", base_url=url + "/v1", timeout_s=30),
                                 StudentInputs(max_image_side=max_side))
        started = time.perf_counter()
        summary = extract_folder(cfg, teacher, progress=False)
        wall = time.perf_counter() - started
        teacher.close()
    ideal = pages * latency / concurrency
    return {"pages": pages, "latency_s": latency, "concurrency": concurrency, "max_image_side": max_side,
            "wall_s": round(wall, 3), "ideal_s": round(ideal, 3), "ratio": round(wall / ideal, 3),
            "requests": counts["requests"], "ok": summary.outputs.outcomes["content"].get("ok", 0),
            "label_s": round(summary.label.seconds, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a quarter of the pages")
    args = parser.parse_args()
    scale = 4 if args.quick else 1
    rows = [{"case": name, **run_case(n // scale, lat, c, side)} for name, n, lat, c, side in CASES]
    if args.json:
        print(json.dumps({"throughput": rows}))
        return
    print(f"{'case':<13} {'N':>4} {'L s':>5} {'C':>3} {'resize':>6} {'wall s':>7} {'ideal s':>7} {'ratio':>6} "
          f"{'ask s':>6} {'reqs':>5} {'ok':>4}")
    for r in rows:
        print(f"{r['case']:<13} {r['pages']:>4} {r['latency_s']:>5} {r['concurrency']:>3} "
              f"{r['max_image_side'] or '-':>6} {r['wall_s']:>7.2f} {r['ideal_s']:>7.2f} {r['ratio']:>6.3f} "
              f"{r['label_s']:>6.2f} {r['requests']:>5} {r['ok']:>4}")


if __name__ == "__main__":
    main()
