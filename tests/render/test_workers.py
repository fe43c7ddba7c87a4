"""The pool isolates a page that kills its worker process (as a MuPDF segfault would)."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.render.config import RenderConfig
from pipeline.render.rasterize import RenderJob
from pipeline.render.workers import run_jobs


def die_on_page_5(job: RenderJob) -> list[tuple[int, str]]:
    if 5 in job.page_indices:
        os._exit(139)  # what a segfault looks like to the parent
    return [(i, "ok") for i in job.page_indices]


def crashed(job: RenderJob) -> list[tuple[int, str]]:
    return [(i, "crashed") for i in job.page_indices]


def test_only_the_killer_page_fails():
    jobs = [RenderJob(Path("x.pdf"), "d", tuple(range(s, s + 4)), Path("."), RenderConfig())
            for s in range(0, 12, 4)]
    results = sorted(r for batch in run_jobs(jobs, die_on_page_5, 2, crashed) for r in batch)
    assert results == [(i, "crashed" if i == 5 else "ok") for i in range(12)]
