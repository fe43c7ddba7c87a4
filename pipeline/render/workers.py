"""A crash-isolating process pool: a page that kills MuPDF fails alone, the run goes on.

Workers are forked on Linux: they start in milliseconds instead of re-importing PyMuPDF and
OpenCV (0.7 s each, measured), and ProcessPoolExecutor launches every fork worker before it
starts its own manager thread, so no lock is copied mid-use. The parent holds no open PDF, and
workers never touch its SQLite handle. Elsewhere (macOS, Windows) they are spawned. When a worker
dies, every job that was in flight is split into single pages and retried one at a time in a
fresh pool; a page that kills a worker even alone is handed to ``on_crash`` and recorded failed.

Ctrl-C: a terminal sends SIGINT to the whole process group. Workers ignore it, so only the parent
stops (one KeyboardInterrupt, no traceback per worker); it drops the jobs in flight (their pages
are not recorded, so the next run renders them) and terminates the workers at once, as it does
when the caller stops reading results (a store write failed).
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import TypeVar

from pipeline.render.rasterize import RenderJob

R = TypeVar("R")


def run_jobs(jobs: Iterable[RenderJob], worker: Callable[[RenderJob], R], workers: int,
             on_crash: Callable[[RenderJob], R]) -> Iterator[R]:
    """Yield ``worker(job)`` results as jobs complete, with at most ``2 * workers`` in flight."""
    pending = iter(jobs)
    suspects: list[RenderJob] = []  # single pages that were in flight when a worker died
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    while True:
        crashed: list[RenderJob] = []
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_ignore_sigint) as pool:
            in_flight: dict[Future, RenderJob] = {}
            isolating = bool(suspects)
            try:
                while True:
                    # Suspects run alone, so a second crash names the guilty page for sure.
                    limit = 1 if isolating else 2 * workers
                    while len(in_flight) < limit:
                        job = suspects.pop(0) if isolating and suspects else (
                            None if isolating else next(pending, None))
                        if job is None:
                            break
                        in_flight[pool.submit(worker, job)] = job
                    if not in_flight:
                        break
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        job = in_flight.pop(future)
                        try:
                            result = future.result()
                        except BrokenProcessPool:
                            crashed.append(job)
                            continue
                        yield result
                    if crashed:
                        break
                    if isolating and not suspects and not in_flight:
                        isolating = False
            except BrokenProcessPool:
                pass
            except (KeyboardInterrupt, GeneratorExit):  # Ctrl-C, or the caller stopped reading (it failed)
                _stop_now(pool)
                raise
            crashed.extend(in_flight.values())
        if not crashed:
            if suspects:
                continue
            return
        for job in crashed:
            if isolating and len(job.page_indices) == 1:
                yield on_crash(job)  # crashed while running alone: this page kills the renderer
            else:
                suspects.extend(replace(job, page_indices=(i,)) for i in job.page_indices)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now, not after their current job."""
    pool.shutdown(wait=False, cancel_futures=True)
    for child in multiprocessing.active_children():   # the pool's workers: the parent starts no other
        child.terminate()
        child.join()
