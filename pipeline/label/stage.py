"""The label stage: every rendered page x every task -> one checked, stored teacher answer.

Each request has a content-addressed key (image bytes + task + prompt + schema + teacher + model
+ generation parameters + anchoring). Pages that render to the same image share one request and
its answer (sent once, stored once). A key whose answer is stored is never sent again; answers
that failed for a transient reason (429, 5xx, timeout) are sent again on the next run, and
``retry_failed`` re-sends the other failures too. Each answer is committed on its own, so a
killed run loses at most the requests in flight.

Before anything goes to a teacher that runs off this machine, the privacy gate (pipeline.label.gating) decides
each page by the privacy policy: allow, redact (masked, restored locally) or block (``sensitive_blocked``, with the
kinds found) unless ``allow_sensitive``. The scheduler itself is ``pipeline.label.engine``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

from pipeline.label.answers import TRANSIENT, Outcome
from pipeline.label.asking import DEFAULT_LADDER, Answer, AskPolicy
from pipeline.label.breaker import DEFAULT_FAILURES, Breaker
from pipeline.label.combined import PageJobs, group_by_page
from pipeline.label.pages import (MAX_PAGES_PER_REQUEST, OUTPUT_SHARE, PagesJobs, answer_tokens, group_pages,
                                  page_jobs)
from pipeline.errors import ConfigError
from pipeline.label.cost import CostMeter, PriceTable, load_prices
from pipeline.label import gating
from pipeline.label.engine import LabelEngine
from pipeline.label.gating import REDACTION_MISMATCH, SENSITIVE_BLOCKED
from pipeline.label.privacy.policy import Policy
from pipeline.label.estimate import estimate_jobs
from pipeline.label.summary import LabelSummary, count_record
from pipeline.label.sources import PageSources
from pipeline.label.ratelimit import RateLimiter
from pipeline.records import Job, LabelRecord, PageStatus
from pipeline.store import RunStore
from pipeline.tasks import Task
from pipeline.teachers import Teacher


__all__ = ["LabelConfig", "LabelSummary", "request_key", "plan_requests", "distinct_requests", "gate_sensitive",
           "label_pages", "SENSITIVE_BLOCKED", "REDACTION_MISMATCH"]


@dataclass(frozen=True)
class LabelConfig:
    tasks: tuple[Task, ...]
    anchor: bool = False          # add a bounded text-layer excerpt to the teacher prompt
    repair: bool = True           # one re-ask quoting the validation errors for invalid answers
    retry_failed: bool = False    # send again every failed request, not only transient failures
    concurrency: int = 1          # requests in flight (the CLI defaults to 8)
    rpm: float | None = None      # requests per minute, None: no limit
    tpm: float | None = None      # tokens per minute (estimated before, corrected after each call)
    max_attempts: int = 1         # per request, transient retries included; also bounds the temperature ladder
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    ladder: tuple[float, ...] = DEFAULT_LADDER
    max_cost_usd: float | None = None
    breaker_failures: int = DEFAULT_FAILURES   # transient failures in a row (no answer) that pause the run for a probe
    prices: PriceTable | None = None   # None: the price table shipped with docdistill
    allow_sensitive: bool = False # send every page as it is (the explicit switch: nothing is checked)
    privacy_policy: Policy | None = None   # None: the shipped default (pipeline/label/privacy/default_policy.yaml)
    dry_run: bool = False         # estimate tokens and cost, send nothing
    one_request_per_page: bool = False   # every task of a page in one request (pipeline.label.combined)
    pages_per_request: int = 1    # several pages (every task of each) in one request (pipeline.label.pages)

    def __post_init__(self) -> None:
        if not 1 <= self.pages_per_request <= MAX_PAGES_PER_REQUEST:
            raise ConfigError(f"--pages-per-request must be 1..{MAX_PAGES_PER_REQUEST}, got {self.pages_per_request}")
        if self.pages_per_request > 1 and self.anchor:
            raise ConfigError("--anchor adds each page's text layer to its own request: drop --anchor, or drop "
                              "--pages-per-request (one page a request)")
        if not 1 <= self.concurrency <= 256:
            raise ConfigError(f"--concurrency must be 1..256, got {self.concurrency}")
        if not 1 <= self.max_attempts <= 20:
            raise ConfigError(f"--max-attempts must be 1..20, got {self.max_attempts}")
        if self.breaker_failures < 1:
            raise ConfigError(f"breaker_failures must be >= 1, got {self.breaker_failures}")
        for flag, value in (("--rpm", self.rpm), ("--tpm", self.tpm), ("--max-cost", self.max_cost_usd)):
            if value is not None and value <= 0:
                raise ConfigError(f"{flag} must be > 0, got {value}")
        if self.backoff_base_s < 0 or self.backoff_max_s < 0:
            raise ConfigError("backoff delays must be >= 0")

    def policy(self) -> AskPolicy:
        return AskPolicy(max_attempts=self.max_attempts, repair=self.repair, ladder=self.ladder,
                         backoff_base_s=self.backoff_base_s, backoff_max_s=self.backoff_max_s)


def request_key(image_sha256: str, task: Task, teacher: Teacher, anchor: bool) -> str:
    """Content address of one teacher request (32 hex chars)."""
    identity = {"image": image_sha256, "task": task.name, "prompt": task.prompt_hash, "schema": task.schema_hash,
                "teacher": teacher.name, "model": teacher.model, "params": teacher.generation_params(),
                "anchor": anchor}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


def _needs_request(stored: str | None, retry_failed: bool) -> bool:
    if stored is None or stored == SENSITIVE_BLOCKED:   # the gate decides again, with today's flags
        return True
    if stored == Outcome.OK.value:
        return False
    try:
        return retry_failed or Outcome(stored) in TRANSIENT
    except ValueError:                                  # an outcome a newer docdistill wrote
        return retry_failed


def plan_requests(store: RunStore, cfg: LabelConfig, teacher: Teacher, summary: LabelSummary) -> Iterator[Job]:
    """Every rendered page x task whose answer is still to get (``summary.up_to_date`` counts the rest).

    Pages that render to the same image (a blank page, boilerplate terms, a re-saved form) have
    the same key: each is yielded, so that the privacy gate can pick a page of a document it may
    send, and ``gate_sensitive`` then keeps one request per key (``distinct_requests``).
    """
    pages = list(store.iter_pages(PageStatus.RENDERED))
    needed: dict[str, bool] = {}
    for page in pages:
        for task in cfg.tasks:
            key = request_key(page.image_sha256, task, teacher, cfg.anchor)
            if key not in needed:
                needed[key] = _needs_request(store.label_outcome(key), cfg.retry_failed)
            if needed[key]:
                yield Job(page, task, key)
            else:
                summary.up_to_date += 1


def distinct_requests(jobs: list[Job], summary: LabelSummary) -> list[Job]:
    """The first job of each request key; the others are counted in ``summary.shared``.

    Their pages have the very same image (the key is content-addressed), so they share the one
    answer: the dataset stage gives every page with that image the label stored for it.
    """
    first: dict[str, Job] = {}
    for job in jobs:
        first.setdefault(job.key, job)
    summary.shared += len(jobs) - len(first)
    return list(first.values())


def _record(job: Job, teacher: Teacher, outcome: str, asked: dict | None = None, **kw) -> LabelRecord:
    # asked: how it was asked, when with other tasks or pages in one request (layout_params); the request
    # key stays the task's own: either way answers the same task, and a label stored one way is not paid again.
    params = {**teacher.generation_params(), **(asked or {})}
    return LabelRecord(request_key=job.key, doc_id=job.page.doc_id, page_index=job.page.page_index,
                       task=job.task.name, teacher=teacher.name, model=teacher.model,
                       prompt_hash=job.task.prompt_hash, schema_hash=job.task.schema_hash, outcome=outcome,
                       params=params, created_at=time.time(), **kw)


def gate_sensitive(jobs: list[Job], sources: PageSources, teacher: Teacher, cfg: LabelConfig,
                   store: RunStore | None, summary: LabelSummary, redactions: dict | None = None) -> list[Job]:
    """The privacy gate (``pipeline.label.gating``): the jobs to send, one per request key
    (``distinct_requests``). Held-back requests are stored ``sensitive_blocked`` (kinds only)
    unless ``store`` is None (a dry run writes nothing); pages to mask land in ``redactions``
    (without it, as in batch mode, they are held back instead).
    """
    return gating.gate_sensitive(jobs, sources, teacher, cfg, store, summary, distinct_requests, _record,
                                 redactions)


def check_one_request_per_page(cfg: LabelConfig, teacher: Teacher) -> None:
    """Raise ConfigError when ``--one-request-per-page`` or ``--pages-per-request`` is asked of a teacher that
    cannot combine tasks."""
    flag = "--pages-per-request" if cfg.pages_per_request > 1 else "--one-request-per-page"
    if (cfg.one_request_per_page or cfg.pages_per_request > 1) and not teacher.combines_tasks:
        raise ConfigError(f"{flag} needs a teacher that answers from the prompt (gemini, openai, "
                          f"openai-compatible); the {teacher.name} teacher labels each task itself: drop the flag")


def layout_requests(jobs: list[Job], cfg: LabelConfig, sources: PageSources,
                    teacher: Teacher) -> list[Job | PageJobs | PagesJobs]:
    """The requests the jobs go in: one each, a page's tasks together, or several pages together (as many
    as their answers, estimated from the text layers, fit a share of the teacher's output limit)."""
    by_page = group_by_page(jobs) if cfg.one_request_per_page or cfg.pages_per_request > 1 else list(jobs)
    if cfg.pages_per_request == 1:
        return by_page
    budget = int(teacher.settings.max_output_tokens * OUTPUT_SHARE)
    return group_pages(by_page, cfg.pages_per_request, budget,
                       lambda item: answer_tokens(sources.page_text(page_jobs(item)[0].page)))


def layout_params(work: list) -> dict[str, dict]:
    """request key -> what its label's params add on how it was asked (nothing when alone)."""
    asked: dict[str, dict] = {}
    for item in work:
        if isinstance(item, PagesJobs):
            for job in item.jobs:
                asked[job.key] = {"one_request_per_page": True, "pages_per_request": len(item.pages)}
        elif isinstance(item, PageJobs):
            for job in item.jobs:
                asked[job.key] = {"one_request_per_page": True}
    return asked


def _price_for(cfg: LabelConfig, teacher: Teacher):
    prices = cfg.prices or load_prices()
    price = prices.get(teacher.model) if teacher.priced else None
    if cfg.max_cost_usd is not None and price is None and teacher.priced:
        where = prices.path or "the price table"
        raise ConfigError(f"--max-cost needs a price for model {teacher.model!r}: add it to {where} "
                          "(input/output USD per 1M tokens) and pass it with --prices")
    return price


def label_pages(sources: PageSources, cfg: LabelConfig, store: RunStore, teacher: Teacher,
                progress: bool = True) -> LabelSummary:
    """Label every rendered page under every task; only TeacherFatalError (and config errors) raise.

    ``sources`` (the caller's, closed by the caller) say where each page's image, PDF and passwords are.
    """
    started = time.perf_counter()
    summary = LabelSummary(teacher=teacher.name, model=teacher.model)
    teacher.check_tasks(list(cfg.tasks))
    check_one_request_per_page(cfg, teacher)
    price = _price_for(cfg, teacher)
    summary.price_source = f"{price.source} (as of {price.as_of})" if price else ""
    if not cfg.dry_run:
        store.put_tasks(cfg.tasks)
    in_batches = store.batch_pending_keys()  # waiting in a --batch job: paid for there, collected by --collect
    jobs = [job for job in plan_requests(store, cfg, teacher, summary) if job.key not in in_batches]
    summary.in_batch_jobs = len(in_batches)
    try:
        redactions: dict = {}
        jobs = gate_sensitive(jobs, sources, teacher, cfg, None if cfg.dry_run else store, summary, redactions)
        if cfg.dry_run:
            summary.estimate = estimate_jobs(jobs, sources, teacher, cfg.anchor, price, cfg.one_request_per_page,
                                             groups=layout_requests(jobs, cfg, sources, teacher))
            return summary
        _run_engine(jobs, sources, cfg, store, teacher, price, summary, progress, redactions)
    finally:
        summary.seconds = time.perf_counter() - started
    return summary


def _run_engine(jobs: list[Job], sources: PageSources, cfg: LabelConfig, store: RunStore, teacher: Teacher,
                price, summary: LabelSummary, progress: bool, redactions: dict) -> None:
    meter = CostMeter(price, cfg.max_cost_usd)
    bar = _progress_bar(progress, len(jobs))
    answered = [0]
    work = layout_requests(jobs, cfg, sources, teacher)
    asked = layout_params(work)

    def on_answer(job: Job, answer: Answer) -> None:
        reply, checked = answer.reply, answer.checked
        outcome, label, detail = gating.restore_answer(redactions, cfg.privacy_policy, job, checked.outcome.value,
                                                       checked.data, checked.errors or checked.note)
        record = _record(job, teacher, outcome, asked.get(job.key), finish_reason=reply.finish_reason,
                         tokens_in=answer.tokens_in, tokens_out=answer.tokens_out, attempts=answer.requests,
                         raw_text=reply.text, label=label, warnings=checked.warnings, detail=detail)
        with store.transaction():
            store.put_label(record)
        count_record(summary, record, sources.document(job.page.doc_id).rel)
        answered[0] += 1
        bar.set_postfix_str(summary.progress_text(engine.stats, meter.spent), refresh=False)
        bar.update(1)

    concurrency = cfg.concurrency if teacher.thread_safe else 1
    engine = LabelEngine(teacher, cfg.policy(), concurrency, RateLimiter(cfg.rpm, cfg.tpm), meter,
                         prepare=gating.prepare_input(sources, redactions, cfg.anchor), on_answer=on_answer,
                         breaker=Breaker(cfg.breaker_failures, pause_s=cfg.backoff_max_s))
    try:
        engine.run(work)
    finally:
        bar.close()
        summary.absorb(engine.stats, meter.spent if price else None)
        summary.left = len(jobs) - answered[0]


def _progress_bar(enabled: bool, total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="label", desc="label", disable=None if enabled else True)
