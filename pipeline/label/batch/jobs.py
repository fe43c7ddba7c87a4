"""Batch mode's settings and summary, shared by ``run``, ``submit`` and ``collect``.

The jobs themselves are ``BatchJob`` records (``pipeline.records``) in the run store's batch
tables (``pipeline.store.batch``); the provider side is a ``pipeline.teachers.batch.BatchClient``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.errors import ConfigError
from pipeline.label.summary import LabelSummary


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
