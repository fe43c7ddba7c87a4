"""Batch mode, collecting: poll pending jobs, check each answer exactly as online, store LabelRecords.

A finished job's answers go through ``check_reply`` (salvage, schema validation, foreign-script
check); a per-request error becomes its outcome (429 rate_limited, 5xx server_error, 4xx
rejected); a request left unanswered (expired) is simply sent again by the next run. A failure
never replaces a valid label already stored. A combined request's answer (``--one-request-per-page``,
``--pages-per-request``) is split per page and task first, each part checked by its own task's model.
"""

from __future__ import annotations

import time

from pipeline.label.answers import Checked, Outcome, check_reply
from pipeline.label.batch.jobs import BatchSummary
from pipeline.label.combined import member_keys
from pipeline.label.pages import replies_per_request
from pipeline.label.cost import PriceTable
from pipeline.label.sources import PageSources
from pipeline.label.stage import LabelConfig
from pipeline.label.summary import count_record
from pipeline.records import BATCH_COLLECTED, BATCH_FAILED, BATCH_PENDING, BatchedRequest, BatchJob, LabelRecord
from pipeline.store import RunStore
from pipeline.teachers import Teacher
from pipeline.teachers.batch import BatchClient, BatchResult


def collect_jobs(cfg: LabelConfig, store: RunStore, teacher: Teacher, provider: BatchClient, summary: BatchSummary,
                 sources: PageSources, prices: PriceTable | None) -> int:
    """Poll this teacher's pending jobs once; store the answers of finished ones. Returns jobs still pending."""
    tasks = {(t.name, t.prompt_hash, t.schema_hash): t for t in cfg.tasks}
    price = prices.get(teacher.model) if prices else None
    still_pending = 0
    # Only this teacher's jobs: another teacher's are collected by a run with that teacher.
    for job in store.batch_jobs(BATCH_PENDING, teacher.name, teacher.model):
        poll = provider.poll(job.job_id)
        if not poll.done:
            store.update_batch_job(job.job_id, BATCH_PENDING, poll.status, poll.detail)
            still_pending += 1
            summary.jobs.append({"job": job.job_id, "state": poll.status, "progress": poll.detail})
            continue
        wanted = store.batch_job_requests(job.job_id)
        missing_tasks: set[str] = set()
        for result in ([] if poll.failed else provider.results(job.job_id)):
            requests = [wanted.get(key) for key in member_keys(result.request_key)]
            if None in requests:
                summary.warnings["unknown_request_key"] += 1
                continue
            found = [tasks.get((r.task, r.prompt_hash, r.schema_hash)) for r in requests]
            if None in found:              # the answer stays with the provider until collected with its task
                missing_tasks.update(r.task for r, t in zip(requests, found) if t is None)
                continue
            # A combined request (--one-request-per-page, --pages-per-request): split per page, then task.
            slots = list(dict.fromkeys((r.doc_id, r.page_index) for r in requests))
            tasks_by_page = [tuple(t for r, t in zip(requests, found) if (r.doc_id, r.page_index) == slot)
                             for slot in slots]
            parts = replies_per_request([(slots.index((r.doc_id, r.page_index)), t) for r, t in zip(requests, found)],
                                        tasks_by_page, result.reply)
            asked = ({} if len(requests) == 1 else {"one_request_per_page": True}) | \
                ({"pages_per_request": len(slots)} if len(slots) > 1 else {})
            for request, task, reply in zip(requests, found, parts):
                record = _record(request, task, result._replace(reply=reply), job, sources, store, asked)
                with store.transaction():
                    if store.label_outcome(record.request_key) != Outcome.OK.value or record.outcome == Outcome.OK.value:
                        store.put_label(record)
                count_record(summary, record, sources.document(record.doc_id).rel)
            # This answer's own usage (a repaired record also carries its first answer's, paid before).
            summary.tokens_in += result.reply.tokens_in
            summary.tokens_out += result.reply.tokens_out
            summary.tokens_cached += result.reply.tokens_cached
            if price is not None:      # cached tokens at the Batch cached rate (price.cached_rate)
                summary.cost_usd = (summary.cost_usd or 0.0) + price.cost(
                    result.reply.tokens_in, result.reply.tokens_out, prices.batch_discount,
                    cached=result.reply.tokens_cached)
        if missing_tasks:              # stays pending, but waiting would not help: not counted
            summary.warnings[f"collect_with_task:{','.join(sorted(missing_tasks))}"] += 1
            continue
        state = BATCH_FAILED if poll.failed else BATCH_COLLECTED
        store.update_batch_job(job.job_id, state, poll.status, poll.detail)
        summary.jobs_failed += poll.failed
        summary.jobs_collected += not poll.failed
        summary.jobs.append({"job": job.job_id, "state": state, "provider_status": poll.status,
                             "detail": poll.detail})
    return still_pending


def _record(request: BatchedRequest, task, result: BatchResult, job: BatchJob, sources: PageSources,
            store: RunStore, asked: dict | None = None) -> LabelRecord:
    reply = result.reply
    if result.rejected:
        checked = Checked(Outcome.REJECTED, errors=reply.detail)
    else:
        doc = sources.document(request.doc_id)
        page_text = sources.texts.text(request.doc_id, doc.path, doc.passwords, request.page_index)
        checked = check_reply(task, reply, page_text)
    tokens_in, tokens_out = reply.tokens_in, reply.tokens_out
    if request.attempt > 1:            # a repair re-ask: counted with the first answer, as online
        first_in, first_out = store.label_tokens(request.request_key)
        tokens_in += first_in
        tokens_out += first_out
        if checked.outcome is Outcome.OK:
            checked.warnings.insert(0, "repaired")
    return LabelRecord(
        request_key=request.request_key, doc_id=request.doc_id, page_index=request.page_index, task=task.name,
        teacher=job.provider, model=job.model, prompt_hash=request.prompt_hash,
        schema_hash=request.schema_hash, outcome=checked.outcome.value,
        params={**job.params, **(asked or {})},
        finish_reason=reply.finish_reason, tokens_in=tokens_in, tokens_out=tokens_out, attempts=request.attempt,
        raw_text=reply.text, label=checked.data, warnings=checked.warnings, detail=checked.errors or reply.detail,
        created_at=time.time())
