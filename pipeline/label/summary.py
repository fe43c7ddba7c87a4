"""What a label run did, for the end summary (text or ``--json``) and the progress bar."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pipeline.label.answers import TRANSIENT, Outcome
from pipeline.records import LabelRecord


@dataclass
class LabelSummary:
    teacher: str = ""
    model: str = ""
    requests: int = 0                                  # calls to the teacher (retries and re-asks included)
    retries: int = 0                                   # transient failures sent again
    up_to_date: int = 0                                # (page, task) pairs already answered
    shared: int = 0                                    # (page, task) pairs answered by an identical page's request
    outcomes: Counter = field(default_factory=Counter)  # "task:outcome" -> count, this run
    warnings: Counter = field(default_factory=Counter)
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0                             # of tokens_in: served from the provider's prompt cache
    cost_usd: float | None = None                      # from reported usage; None: no price for the model
    price_source: str = ""
    failures: list[dict] = field(default_factory=list)  # {path, page, task, outcome, detail}
    blocked: list[dict] = field(default_factory=list)   # documents held back by the privacy gate: {path, kinds}
    privacy: dict = field(default_factory=dict)        # the privacy gate: {"pages"|"documents": {action: n}, "policy"}
    left: int = 0                                      # (page, task) not answered: the run stopped early
    in_batch_jobs: int = 0                             # requests waiting in --batch jobs (not sent again)
    stopped: str = ""                                  # "", "budget" (--max-cost), "fatal" or "unavailable"
    estimate: dict | None = None                       # --dry-run: what the run would send and cost
    seconds: float = 0.0

    def to_dict(self) -> dict:
        by_task: dict[str, dict[str, int]] = {}
        for key, count in sorted(self.outcomes.items()):
            task, outcome = key.split(":", 1)
            by_task.setdefault(task, {})[outcome] = count
        out = {"teacher": self.teacher, "model": self.model, "requests": self.requests, "retries": self.retries,
               "up_to_date": self.up_to_date, "shared_with_identical_page": self.shared, "labels": by_task,
               "warnings": dict(self.warnings),
               "tokens": {"in": self.tokens_in, "out": self.tokens_out, "cached": self.tokens_cached},
               "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 6),
               "failures": self.failures, "sensitive_blocked": self.blocked,
               "privacy": {k: dict(v) if isinstance(v, Counter) else v for k, v in self.privacy.items()},
               "left_for_next_run": self.left,
               "stopped": self.stopped or None, "in_batch_jobs": self.in_batch_jobs,
               "seconds": round(self.seconds, 3)}
        if self.price_source:
            out["price_source"] = self.price_source
        if self.estimate is not None:
            out["estimate"] = self.estimate
        return out

    def absorb(self, stats, cost_usd: float | None) -> None:
        """Take the scheduler's counts (every request, including those of abandoned answers)."""
        self.requests += stats.requests
        self.retries += stats.retries
        self.tokens_in += stats.tokens_in
        self.tokens_out += stats.tokens_out
        self.tokens_cached += stats.tokens_cached
        self.stopped = stats.stopped
        if cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + cost_usd

    def rerun_note(self) -> str:
        """What the next run sends again by itself (empty: nothing failed for a passing reason).

        >>> s = LabelSummary()
        >>> s.outcomes.update({"content:ok": 3, "content:timeout": 1, "metadata:server_error": 2})
        >>> s.rerun_note()
        '3 transient failure(s) (server_error 2, timeout 1): a rerun sends them again'
        """
        failed: Counter = Counter()
        for key, count in self.outcomes.items():
            outcome = key.split(":", 1)[1]
            if outcome in {o.value for o in TRANSIENT}:
                failed[outcome] += count
        if not failed:
            return ""
        listed = ", ".join(f"{outcome} {n}" for outcome, n in sorted(failed.items()))
        return f"{sum(failed.values())} transient failure(s) ({listed}): a rerun sends them again"

    def progress_text(self, stats, spent: float) -> str:
        """The progress bar's postfix: failures by reason, tokens, cost."""
        failed = Counter(f["outcome"] for f in self.failures)
        parts = [", ".join(f"{o} {n}" for o, n in failed.most_common(3)) or "no failures",
                 f"tok {(stats.tokens_in + stats.tokens_out) / 1000:.1f}k"]
        if stats.tokens_cached:
            parts.append(f"cached {stats.tokens_cached / 1000:.1f}k")
        if spent:
            parts.append(f"${spent:.4f}")
        if stats.retries:
            parts.append(f"retries {stats.retries}")
        return " | ".join(parts)


def count_record(summary: LabelSummary, record: LabelRecord, rel_path: str) -> None:
    """Count one stored answer by task and outcome (requests and tokens are counted as they are sent)."""
    summary.outcomes[f"{record.task}:{record.outcome}"] += 1
    for warning in record.warnings:
        summary.warnings[warning.split(":")[0] if warning.startswith(("salvaged", "temperature")) else warning] += 1
    if record.outcome != Outcome.OK.value:
        summary.failures.append({"path": rel_path, "page": record.page_index + 1, "task": record.task,
                                 "outcome": record.outcome, "detail": record.detail[:300]})
