"""What ``python -m pipeline.distill`` says at the end: the text summary, and the verdict (exit
code + why) a script acts on. The codes are ``pipeline.cli``'s, the same for every command.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from pipeline.cli import EXIT_CONFIG, EXIT_DONE, EXIT_WORK_LEFT
from pipeline.label.answers import TRANSIENT
from pipeline.label.stage import LabelSummary
from pipeline.records import PageStatus
from pipeline.render.discover import DOCUMENT_KINDS
from pipeline.render.stage import RenderSummary
from pipeline.store import RunStore

_TRANSIENT = frozenset(o.value for o in TRANSIENT)


@dataclass(frozen=True)
class Verdict:
    code: int
    reason: str = ""          # empty for a plain "done"

    def to_dict(self) -> dict:
        return {"exit_code": self.code, "reason": self.reason or None}


def interrupted_line(store: RunStore, run_dir) -> str:
    """The one line a Ctrl-C leaves: what the store holds (each answer is committed on its own)."""
    pages = store.count_pages().get(PageStatus.RENDERED.value, 0)
    labels = sum(store.count_labels().values())
    return (f"interrupted: {pages} rendered page(s) and {labels} label(s) are stored in {run_dir}; "
            "rerun the same command to continue (nothing stored is sent or rendered again)")


def verdict(store: RunStore, render: RenderSummary, label: LabelSummary | None, tasks: tuple[str, ...]) -> Verdict:
    """The exit code of a run that finished: work left for a rerun (1), nothing usable came of it (2), or done.

    Work left wins over "nothing usable": a run whose every request hit a 429 is retried by a rerun.
    """
    if label is not None and label.estimate is None:           # a dry run sent nothing, on purpose
        transient: Counter = Counter()
        for key, n in label.outcomes.items():        # "task:outcome"
            if (outcome := key.split(":", 1)[1]) in _TRANSIENT:
                transient[outcome] += n
        left = []
        if transient:
            left.append(f"{sum(transient.values())} request(s) failed for a transient reason "
                        f"({', '.join(f'{o} {n}' for o, n in sorted(transient.items()))})")
        if label.stopped == "budget":
            left.append(f"the --max-cost budget stopped the run with {label.left} request(s) not sent")
        pending = getattr(label, "requests_pending", 0) or label.in_batch_jobs   # a --batch run, or an online one
        if pending:
            left.append(f"{pending} request(s) wait in batch jobs (rerun with --collect to pick them up)")
        if left:
            return Verdict(EXIT_WORK_LEFT, "; ".join(left) + ": rerun the same command to continue")
    if not store.count_pages().get(PageStatus.RENDERED.value, 0):
        skipped = Counter({k: n for k, n in render.outcomes.items() if k.startswith("skipped:")})
        if skipped or render.pages_failed:
            why = ", ".join(f"{k} {n}" for k, n in sorted(skipped.items())) or f"{render.pages_failed} failed page(s)"
            return Verdict(EXIT_CONFIG, f"no page could be rendered ({why}): see the reasons above")
        return Verdict(EXIT_DONE, "no document of this shard in the folder")
    if label is not None and label.estimate is None:
        counts: Counter = Counter()
        for (task, outcome), n in store.count_labels().items():
            if task in tasks:
                counts[outcome] += n
        if not counts.get("ok"):
            why = ", ".join(f"{o} {n}" for o, n in counts.most_common()) or "nothing labelled"
            return Verdict(EXIT_CONFIG, f"no page has a usable label ({why}): see the failures above; another "
                                        "teacher, model or flags may label them")
    return Verdict(EXIT_DONE)


def format_render_summary(summary: RenderSummary) -> str:
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(summary.kinds.items()))
    lines = [f"render: {summary.files} file(s), {summary.documents} document(s)" + (f" ({kinds})" if kinds else "")
             + (f", {summary.excluded} excluded by --include/--exclude" if summary.excluded else "")
             + f" in {summary.seconds:.1f}s"]
    if not summary.files:
        lines.append(f"  no input found under {summary.input_dir or 'the input folder'}: looked for "
                     + ", ".join(f"*{suffix}" for suffix in DOCUMENT_KINDS) + " (any case)")
    for outcome, count in sorted(summary.outcomes.items()):
        lines.append(f"  {outcome:<28} {count}")
    lines.append(f"  pages: {summary.pages_rendered} rendered, {summary.pages_up_to_date} already done, "
                 f"{summary.pages_failed} failed (of {summary.pages_total})")
    for item in summary.skipped_files:
        lines.append(f"  skipped {item['path']}: {item['detail']}")
    for item in summary.failed_pages[:20]:
        lines.append(f"  failed {item['path']} page {item['page']}: {item['reason']}")
    if len(summary.failed_pages) > 20:
        lines.append(f"  ... and {len(summary.failed_pages) - 20} more failed pages (see the run store)")
    lines.append(f"  store: {summary.store}")
    return "\n".join(lines)


def format_label_summary(summary: LabelSummary) -> str:
    data = summary.to_dict()
    lines = [f"label: teacher {summary.teacher} ({summary.model}), {summary.requests} request(s), "
             f"{summary.up_to_date} already done, {summary.seconds:.1f}s, "
             f"tokens {summary.tokens_in} in ({summary.tokens_cached} cached) / {summary.tokens_out} out"
             + (f", ${summary.cost_usd:.4f}" if summary.cost_usd is not None else "")
             + (f", {summary.retries} retries" if summary.retries else "")]
    if summary.shared:
        lines.append(f"  {summary.shared} page label(s) share an answer with an identical page (sent once)")
    if summary.estimate is not None:
        e = summary.estimate
        cost = f"${e['cost_usd']:.4f}" if e["cost_usd"] is not None else "unknown (no price for the model)"
        lines.append(f"  dry run, nothing sent: {e['pages']} page(s), {e['requests']} request(s), "
                     f"image tokens {e['image_tokens']} ({e['rule']}), prompt tokens {e['prompt_tokens']} "
                     f"({e['cached_tokens_assumed']} cached: {e['caching']}), "
                     f"output tokens ~{e['output_tokens_assumed']}; estimated cost {cost}")
    if summary.stopped == "budget":
        lines.append(f"  stopped at the --max-cost budget: {summary.left} left for the next run")
    if summary.rerun_note():
        lines.append(f"  {summary.rerun_note()}")
    if summary.privacy.get("pages"):
        lines.append("  privacy gate (" + str(summary.privacy.get("policy", "default")) + "): documents "
                     + ", ".join(f"{a} {n}" for a, n in sorted(summary.privacy.get("documents", {}).items()))
                     + "; pages " + ", ".join(f"{a} {n}" for a, n in sorted(summary.privacy["pages"].items())))
    for item in summary.blocked:
        pages = item.get("pages") or []
        where = f" page(s) {', '.join(map(str, pages))}" if pages else ""
        lines.append(f"  sensitive_blocked {item['path']}: {', '.join(item['kinds'])}{where} (not sent"
                     + (f"; {item['detail']}" if item.get("detail") else "; a --privacy-policy may redact or allow "
                        "it, --allow-sensitive sends everything") + ")")
    for task, outcomes in data["labels"].items():
        lines.append(f"  {task:<12} " + ", ".join(f"{o} {n}" for o, n in outcomes.items()))
    if summary.warnings:
        lines.append("  warnings: " + ", ".join(f"{w} {n}" for w, n in sorted(summary.warnings.items())))
    for item in summary.failures[:20]:
        lines.append(f"  {item['outcome']} {item['path']} page {item['page']} ({item['task']}): {item['detail']}")
    if len(summary.failures) > 20:
        lines.append(f"  ... and {len(summary.failures) - 20} more (see the run store)")
    return "\n".join(lines)
