"""The label scheduler: up to N teacher requests in flight, within --rpm / --tpm and --max-cost.

One asyncio loop on the calling thread plans, rate-limits, budgets and stores; the synchronous
SDK teachers run in a thread pool of N. Everything that touches the run store or the PDFs
happens on the loop's thread, so the store keeps a single writer and each answer is its own
transaction: a run killed at any moment loses only the requests in flight.

Throughput: the loop's thread and the N SDK threads share one GIL, so whatever runs between an
answer and the next request delays that slot. N worker coroutines each store an answer and send
the next request in the same loop step, and the start-up heap is kept out of full collections
for the run (``_freeze_heap``). At 0.2 s latency, 16 in flight, a run takes ~1.07x the ideal
N x L / C (bench/teacher.py): mostly the SDK's own CPU per call, and the privacy gate's scan.

Stopping: a TeacherFatalError (401/403/400) or a spent budget stops new requests at once;
requests already in flight finish and their answers are stored; a (page, task) that would need
another request is left for the next run (nothing is stored for it). A teacher that answers
nothing (``pipeline.label.breaker``: K transient failures in a row, then a failed probe) stops
the run the same way, with ``TeacherUnavailable``.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from pipeline.label.asking import Answer, AskPolicy, StopSending, ask_answer
from pipeline.label.breaker import Breaker
from pipeline.label.combined import PageJobs, ask_page
from pipeline.label.pages import PageAsk, PagesJobs, ask_pages, page_jobs
from pipeline.label.cost import CostMeter, text_tokens
from pipeline.label.ratelimit import RateLimiter
from pipeline.records import Job
from pipeline.tasks import Task
from pipeline.teachers import PageInput, Reply, ReplyStatus, Teacher, TeacherFatalError


def _freeze_heap() -> bool:
    """Keep the objects alive now (modules, SDK clients, the plan) out of full collections.

    The SDKs allocate enough per request to trigger a full collection every few hundred
    requests; each walks the ~200k objects of the imported libraries and holds the GIL for
    50-115 ms, stalling every request in flight. Frozen objects are only skipped by the
    collector, never freed early; they are unfrozen when the run ends. Returns False (and
    does nothing) when someone else already froze the heap: theirs to unfreeze.
    """
    if gc.get_freeze_count():
        return False
    gc.freeze()
    return True


@dataclass
class EngineStats:
    requests: int = 0                      # requests sent (retries and re-asks included)
    retries: int = 0                       # transient failures sent again
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0                 # of tokens_in: served from the provider's prompt cache
    abandoned: int = 0                     # (page, task) left for the next run because the run stopped
    stopped: str = ""                      # "", "budget", "fatal" or "unavailable" (the breaker)


class LabelEngine:
    """Runs jobs: ``prepare(job) -> (PageInput, page_text)``; ``on_answer(job, answer)`` stores one."""

    def __init__(self, teacher: Teacher, policy: AskPolicy, concurrency: int, limiter: RateLimiter,
                 meter: CostMeter, prepare: Callable[[Job], tuple[PageInput, str | None]],
                 on_answer: Callable[[Job, Answer], None], breaker: Breaker | None = None):
        self.teacher, self.policy, self.concurrency = teacher, policy, concurrency
        self.limiter, self.meter, self.prepare, self.on_answer = limiter, meter, prepare, on_answer
        self.breaker = breaker or Breaker(pause_s=policy.backoff_max_s)
        self.stats = EngineStats()
        self.fatal: BaseException | None = None
        self._pool: ThreadPoolExecutor | None = None

    def run(self, jobs: Iterable[Job]) -> EngineStats:
        """Label every job; re-raises the TeacherFatalError that stopped the run, after storing the rest."""
        if isinstance(jobs, Sized):
            self.breaker.bound(len(jobs) * self.policy.max_attempts)
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="teacher")
        frozen = _freeze_heap()
        try:
            asyncio.run(self._run(jobs))
        finally:
            # A Ctrl-C leaves requests in the pool's threads: do not wait for their timeouts.
            self._pool.shutdown(wait=False, cancel_futures=True)
            if frozen:
                gc.unfreeze()
        if self.breaker.tripped and not self.stats.stopped:   # it ran out of work before a probe
            self._fail(self.breaker.verdict(self.teacher, probed=False), "unavailable")
        if self.fatal is not None:
            raise self.fatal
        return self.stats

    def _stop(self, reason: str) -> None:
        if not self.stats.stopped:
            self.stats.stopped = reason
        self.breaker.release()

    async def _run(self, jobs: Iterable[Job]) -> None:
        # N workers share one iterator: a worker that has stored an answer takes the next job and
        # sends it in the same loop step. (One task per job, started by a feeder when a semaphore
        # slot freed, took five loop steps from answer to next request, each queued behind the
        # other answers ready and each a GIL hand-off: 4.5 ms on average at 16 in flight, now 3.)
        pending = iter(jobs)
        await asyncio.gather(*(self._worker(pending) for _ in range(self.concurrency)))

    async def _worker(self, jobs: Iterator[Job | PageJobs | PagesJobs]) -> None:
        for job in jobs:
            if self.stats.stopped:
                return
            # Prepared on this thread, just before it is needed: a 100k-page run holds N images.
            try:
                inputs = [self.prepare(page_jobs(page)[0]) for page in (job.pages if isinstance(job, PagesJobs)
                                                                        else (job,))]
            except Exception as exc:       # e.g. a rendered image deleted since: stop, keep what is in flight
                self._fail(exc)
                return
            page_input, page_text = inputs[0]
            if isinstance(job, PagesJobs):
                await self._pages(job, inputs)
            elif isinstance(job, PageJobs):
                await self._one_page(job, page_input, page_text)
            else:
                await self._one(job, page_input, page_text)

    def _fail(self, exc: BaseException, reason: str = "fatal") -> None:
        if self.fatal is None:
            self.fatal = exc
        self._stop(reason)

    def _sender(self, page_input: PageInput, job: Job, task: Task):
        image = self.teacher.image_tokens(job.page.width, job.page.height, self.meter.price)

        async def send(text: str, temperature: float | None) -> Reply:
            return await self._send(page_input, task, text, temperature, image + text_tokens(text))
        return send

    async def _one(self, job: Job, page_input: PageInput, page_text: str | None) -> None:
        prompt = self.teacher.prompt_for(job.task, page_input.anchor_text)
        send = self._sender(page_input, job, job.task)
        await self._settle([job], lambda: self._ask_one(send, job, prompt, page_text))

    async def _ask_one(self, send, job: Job, prompt: str, page_text: str | None):
        answer = await ask_answer(send, job.task, prompt, page_text, self.policy, self.teacher.settings.temperature)
        return {job.key: answer}, None

    async def _one_page(self, group: PageJobs, page_input: PageInput, page_text: str | None) -> None:
        """Every task of one page in one request (``--one-request-per-page``), split back per task."""
        first = group.jobs[0]
        prompts = {job.task.name: self.teacher.prompt_for(job.task, page_input.anchor_text) for job in group.jobs}
        send_for = {job.task.name: self._sender(page_input, job, job.task) for job in group.jobs}
        combined = self._sender(page_input, first, group.combined)
        prompt = self.teacher.prompt_for(group.combined, page_input.anchor_text)
        await self._settle(list(group.jobs), lambda: ask_page(combined, send_for, group, prompt, prompts, page_text,
                                                              self.policy, self.teacher.settings.temperature))

    async def _pages(self, group: PagesJobs, inputs: list[tuple[PageInput, str | None]]) -> None:
        """Several pages in one request (``--pages-per-request``), split back per page and task."""
        asks = []
        for item, (page_input, page_text) in zip(group.pages, inputs):
            jobs = page_jobs(item)
            asks.append(PageAsk(item=item, page_text=page_text,
                                send_page=self._sender(page_input, jobs[0], item.combined) if len(jobs) > 1 else None,
                                send_for={job.task.name: self._sender(page_input, job, job.task) for job in jobs},
                                prompts={job.task.name: self.teacher.prompt_for(job.task, None) for job in jobs},
                                prompt_page=self.teacher.prompt_for(item.combined, None) if len(jobs) > 1 else None))
        shown = replace(inputs[0][0], more=tuple(page_input for page_input, _ in inputs[1:]))
        image = sum(self.teacher.image_tokens(p.width, p.height, self.meter.price)
                    for p in (page_jobs(item)[0].page for item in group.pages))

        async def send(text: str, temperature: float | None) -> Reply:
            return await self._send(shown, group.task, text, temperature, image + text_tokens(text))
        prompt = self.teacher.prompt_for(group.task, None)
        await self._settle(list(group.jobs), lambda: ask_pages(send, group, prompt, asks, self.policy,
                                                               self.teacher.settings.temperature))

    async def _settle(self, jobs: list[Job], ask) -> None:
        """Ask (``ask()`` -> ({request key: Answer}, error or None)) and store each answer got; the jobs without
        one are abandoned (left for the next run); an error other than StopSending stops the run."""
        try:
            answers, error = await ask()
        except Exception as exc:           # StopSending, TeacherFatalError, or a bug: nothing came back
            answers, error = {}, exc
        for job in jobs:
            answer = answers.get(job.key)
            if answer is None:
                self.stats.abandoned += 1
                continue
            self.stats.retries += answer.retries
            try:
                self.on_answer(job, answer)
            except Exception as exc:       # the store failed (disk full ...): stop, store what is back
                self._fail(exc)
                return
        if error is not None and not isinstance(error, StopSending):
            self._fail(error)              # stop sending; what was back is stored

    async def _send(self, page: PageInput, task: Task, prompt: str, temperature: float | None,
                    tokens_in: int) -> Reply:
        if self.stats.stopped:
            raise StopSending
        estimate = self.meter.estimate(tokens_in)
        if not self.meter.reserve(estimate):
            self._stop("budget")
            raise StopSending
        expected = tokens_in + self.meter.expected_output_tokens()
        try:
            await self.limiter.acquire(expected)
            probe = await self.breaker.admit()   # held while the teacher answers nothing
            if self.stats.stopped:         # stopped while this one waited for its turn
                raise StopSending
            self.stats.requests += 1
            loop = asyncio.get_running_loop()
            reply = await loop.run_in_executor(self._pool, self.teacher.ask, page, task, prompt, temperature)
        except BaseException:
            self.meter.settle(estimate, 0, 0)
            raise
        if self.breaker.record(reply, probe):
            self._fail(self.breaker.verdict(self.teacher, probed=True), "unavailable")
        self.meter.settle(estimate, reply.tokens_in, reply.tokens_out, reply.tokens_cached)
        self.limiter.correct(expected, reply.tokens_in + reply.tokens_out)
        self.stats.tokens_in += reply.tokens_in
        self.stats.tokens_out += reply.tokens_out
        self.stats.tokens_cached += reply.tokens_cached
        if reply.status is ReplyStatus.RATE_LIMITED and reply.retry_after_s:
            self.limiter.pause(min(reply.retry_after_s, self.policy.backoff_max_s))
        return reply


__all__ = ["Job", "LabelEngine", "EngineStats", "TeacherFatalError"]
