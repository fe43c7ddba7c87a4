"""Batch mode (``--batch`` / ``--collect``): the label stage through the providers' Batch APIs.

Half the price of online requests for answers within 24 hours. A run first collects every job
that has finished (answers checked exactly like online ones, with ``check_reply``, and stored as
LabelRecords), then submits what is still to do as new jobs, recorded in the run store the
moment the provider accepts them. Keys inside a pending job are never sent again, so a run can
be stopped, restarted, or collected from another process days later without paying twice.
An invalid or malformed answer gets its one repair re-ask in the next job, as online.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pipeline.label.batch.collect import collect_jobs
from pipeline.label.batch.jobs import COLLECTED, FAILED, ensure_batch_tables, pending_jobs
from pipeline.label.batch.submit import resolve_unconfirmed, submit_jobs
from pipeline.errors import ConfigError
from pipeline.render.config import RenderRunConfig
from pipeline.label.cost import PriceTable, load_prices
from pipeline.label.stage import LabelConfig
from pipeline.label.summary import LabelSummary
from pipeline.label.sources import PageSources
from pipeline.store import RunStore
from pipeline.teachers import Teacher

BATCH_TEACHERS = ("openai", "gemini")


@dataclass(frozen=True)
class BatchConfig:
    submit: bool = True                    # False (--collect): only collect finished jobs
    wait: bool = False                     # poll until every job of this teacher is collected
    poll_interval_s: float = 60.0
    max_requests_per_job: int | None = None  # default: the provider's own limit

    def __post_init__(self) -> None:
        if self.poll_interval_s <= 0 or (self.max_requests_per_job is not None and self.max_requests_per_job < 1):
            raise ConfigError("--poll-interval must be > 0 and --batch-size >= 1")


@dataclass
class BatchSummary(LabelSummary):
    jobs_submitted: int = 0
    requests_submitted: int = 0
    in_pending_jobs: int = 0               # planned keys skipped: already inside a pending job
    jobs_pending: int = 0
    requests_pending: int = 0
    jobs_collected: int = 0
    jobs_failed: int = 0
    estimated_cost_usd: float | None = None  # of what was submitted, at the batch rate (cost_usd: collected)
    jobs: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["batch"] = {"jobs_submitted": self.jobs_submitted, "requests_submitted": self.requests_submitted,
                        "in_pending_jobs": self.in_pending_jobs, "jobs_pending": self.jobs_pending,
                        "requests_pending": self.requests_pending, "jobs_collected": self.jobs_collected,
                        "jobs_failed": self.jobs_failed, "jobs": self.jobs,
                        "estimated_cost_usd": _round(self.estimated_cost_usd)}
        return out


def format_batch(summary: BatchSummary) -> str:
    """The batch part of the text summary (the label part is the online one's)."""
    cost = f", ${summary.cost_usd:.4f} collected" if summary.cost_usd is not None else ""
    estimate = f" (about ${summary.estimated_cost_usd:.4f} at the batch rate)" \
        if summary.estimated_cost_usd is not None else ""
    lines = [f"batch: {summary.jobs_submitted} job(s) submitted with {summary.requests_submitted} request(s)"
             f"{estimate}; {summary.jobs_collected} collected{cost}, {summary.jobs_failed} failed; "
             f"{summary.jobs_pending} pending ({summary.requests_pending} requests)"]
    if summary.jobs_pending:
        lines.append("  collect later with the same command plus --collect (or rerun with --batch)")
    return "\n".join(lines)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def make_provider(teacher: Teacher):
    """The Batch API client for a teacher; only the openai and gemini teachers have one."""
    if teacher.name == "openai":
        from pipeline.teachers.openai_batch import OpenAIBatch
        return OpenAIBatch(teacher)
    if teacher.name == "gemini":
        from pipeline.teachers.gemini_batch import GeminiBatch
        return GeminiBatch(teacher)
    raise ConfigError(f"--batch/--collect work with --teacher {' or '.join(BATCH_TEACHERS)}, not {teacher.name!r} "
                      "(a local server has no Batch API: label it online)")


def run_batch(run_cfg: RenderRunConfig, cfg: LabelConfig, bcfg: BatchConfig, store: RunStore, teacher: Teacher,
              prices: PriceTable | None = None) -> BatchSummary:
    """Collect finished jobs, then submit what is left (unless --collect); with ``wait``, poll until done.

    Prices: ``prices``, else the label config's, else the table shipped with docdistill; the batch
    rate is the table's ``batch_discount``. ``cfg.dry_run`` estimates what would be submitted.
    """
    started = time.perf_counter()
    summary = BatchSummary(teacher=teacher.name, model=teacher.model)
    teacher.check_tasks(list(cfg.tasks))
    prices = prices or cfg.prices or load_prices()
    price = prices.get(teacher.model)
    summary.price_source = f"{price.source} (as of {price.as_of}), batch rate x{prices.batch_discount:g}" \
        if price else ""
    provider = make_provider(teacher)
    sources = PageSources(run_cfg, store)
    try:
        if cfg.dry_run:                # nothing written, nothing sent: the estimate only
            submit_jobs(cfg, bcfg, store, teacher, provider, summary, sources, prices)
            return summary
        ensure_batch_tables(store)
        with store.transaction():
            for task in cfg.tasks:
                store.put_task(task.name, task.prompt_hash, task.schema_hash, task.student_prompt,
                               task.teacher_template, task.model.model_json_schema())
        resolve_unconfirmed(store, teacher, provider, summary)
        waiting = collect_jobs(cfg, store, teacher, provider, summary, sources, prices)
        if bcfg.submit:
            submit_jobs(cfg, bcfg, store, teacher, provider, summary, sources, prices)
            waiting += summary.jobs_submitted
        while bcfg.wait and waiting:
            time.sleep(bcfg.poll_interval_s)
            summary.jobs = [j for j in summary.jobs if j["state"] in ("submitted", COLLECTED, FAILED)]
            waiting = collect_jobs(cfg, store, teacher, provider, summary, sources, prices)
        mine = [j for j in pending_jobs(store) if (j["provider"], j["model"]) == (teacher.name, teacher.model)]
        summary.jobs_pending, summary.requests_pending = len(mine), sum(j["requests"] for j in mine)
    finally:
        sources.close()
        provider.close()
        summary.seconds = time.perf_counter() - started
    return summary
