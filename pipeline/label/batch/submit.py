"""Batch mode, submitting: plan what is still to do, build provider requests, start jobs, record them.

Planning is the online label stage's own (``plan_requests`` and the privacy gate, so a document
with personal data is held back exactly as online), minus the keys inside a pending job. Answers
that came back invalid or malformed get their one repair re-ask (the teacher prompt plus the
validation errors, as online) in the next job, unless ``--no-repair``.

``--one-request-per-page`` (``--pages-per-request``): a page's tasks (several pages' tasks) never asked
before go in one request (its id: the request keys it answers, ``PageJobs.key``), as online; a task asked
before (a repair, a cut-off or refused combined answer) goes alone, so a page that cannot be answered
that way is not sent that way twice.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import replace

from pipeline.label.answers import REPAIRABLE, TRANSIENT, Checked, Outcome, repair_prompt
from pipeline.label.batch.jobs import BatchConfig, BatchSummary
from pipeline.label.combined import PageJobs
from pipeline.label.pages import PagesJobs, page_jobs, page_task
from pipeline.label.cost import PriceTable
from pipeline.label.estimate import estimate_jobs
from pipeline.label.gating import SENSITIVE_BLOCKED
from pipeline.label.sources import PageSources
from pipeline.label.stage import LabelConfig, gate_sensitive, layout_requests, plan_requests, request_key
from pipeline.records import BATCH_SUBMITTING, BatchedRequest, BatchJob, Job
from pipeline.store import RunStore
from pipeline.teachers import Teacher, TeacherFatalError
from pipeline.teachers.batch import BatchClient, JobStateUnknown


def plan_repairs(store: RunStore, cfg: LabelConfig, teacher: Teacher, skip: set[str]) -> list[tuple[Job, tuple]]:
    """(job, (raw_text, Checked)) for this teacher's first answers that a repair re-ask may fix."""
    if not cfg.repair:
        return []
    tasks = {(t.name, t.prompt_hash): t for t in cfg.tasks}
    pages = {(p.doc_id, p.page_index): p for p in store.iter_pages()}
    repairs = []
    for row in store.first_answers(teacher.name, teacher.model, (o.value for o in REPAIRABLE)):
        task = tasks.get((row["task"], row["prompt_hash"]))
        page = pages.get((row["doc_id"], row["page_index"]))
        if task is None or page is None or row["request_key"] in skip:
            continue
        if request_key(page.image_sha256, task, teacher, cfg.anchor) == row["request_key"]:   # today's request
            repairs.append((Job(page, task, row["request_key"]),
                            (row["raw_text"], Checked(Outcome(row["outcome"]), errors=row["detail"]))))
    return repairs


def submit_jobs(cfg: LabelConfig, bcfg: BatchConfig, store: RunStore, teacher: Teacher, provider: BatchClient,
                summary: BatchSummary, sources: PageSources, prices: PriceTable) -> None:
    """Start jobs for every request still to do (and every repair re-ask); each job recorded as accepted."""
    busy = store.batch_pending_keys()
    jobs = []
    for job in plan_requests(store, cfg, teacher, summary):
        if job.key in busy:
            summary.in_pending_jobs += 1
        else:
            jobs.append(job)
    found = plan_repairs(store, cfg, teacher, busy | {j.key for j in jobs})
    repairs = {job.key: repair for job, repair in found}
    jobs += [job for job, _ in found]
    summary.up_to_date -= len(repairs)     # plan_requests counted them as done: they are not, yet
    # The privacy gate, as online: documents with personal data are held back from a cloud teacher.
    todo = gate_sensitive(jobs, sources, teacher, cfg, None if cfg.dry_run else store, summary)
    price = prices.get(teacher.model)
    work = _layout(todo, cfg, store, set(repairs), sources, teacher)
    estimate = estimate_jobs(todo, sources, teacher, cfg.anchor, price, cfg.one_request_per_page,
                             discount=prices.batch_discount, groups=work)
    if estimate["cost_usd"] is not None:
        summary.estimated_cost_usd = estimate["cost_usd"] if todo else None
    if cfg.dry_run:
        summary.estimate = {**estimate, "batch": True}
        return
    limit = min(provider.max_requests, bcfg.max_requests_per_job or provider.max_requests)
    hashes = {task.name: task.schema_hash for task in cfg.tasks}      # a schema dump each: once per task
    plain_prompts: dict[str, str] = {}                                 # as online: once per task
    items, requests, size = [], [], 0
    for entry in work:
        jobs_here = list(entry.jobs) if isinstance(entry, (PageJobs, PagesJobs)) else [entry]
        task = entry.task if isinstance(entry, PagesJobs) else page_task(entry)
        key = entry.key
        if isinstance(entry, PagesJobs):   # every page's image, in order (no anchors: LabelConfig says so)
            shown = [sources.page_input(page_jobs(page)[0].page, False)[0] for page in entry.pages]
            page_input, page_text = replace(shown[0], more=tuple(shown[1:])), None
        else:
            page_input, page_text = sources.page_input(jobs_here[0].page, cfg.anchor)
        if task.name not in plain_prompts:
            plain_prompts[task.name] = teacher.prompt_for(task, None)
        prompt = teacher.prompt_for(task, page_text) if cfg.anchor and page_text else plain_prompts[task.name]
        repair = repairs.get(key)
        if repair is not None:
            prompt = repair_prompt(prompt, *repair)
        item, item_size = provider.request(key, page_input, task, prompt)
        if items and (len(items) >= limit or size + item_size > provider.max_bytes):
            _submit_one(store, teacher, provider, items, requests, summary)
            items, requests, size = [], [], 0
        items.append(item)
        requests += [BatchedRequest(job.key, job.page.doc_id, job.page.page_index, job.task.name,
                                    job.task.prompt_hash, hashes[job.task.name], 1 if repair is None else 2)
                     for job in jobs_here]
        size += item_size
    if items:
        _submit_one(store, teacher, provider, items, requests, summary)


def _layout(todo: list[Job], cfg: LabelConfig, store: RunStore, repairs: set[str], sources: PageSources,
            teacher: Teacher) -> list[Job | PageJobs | PagesJobs]:
    """The requests to build: one per job, or with ``--one-request-per-page`` one per page (``--pages-per-request``:
    several pages) for the tasks never asked before (a task with an answer or a failure on record, other
    than a transient one, goes alone)."""
    if not (cfg.one_request_per_page or cfg.pages_per_request > 1):
        return list(todo)
    never_answered = {None, SENSITIVE_BLOCKED, *(o.value for o in TRANSIENT)}
    fresh, alone = [], []
    for job in todo:
        first_time = store.label_outcome(job.key) in never_answered and job.key not in repairs
        (fresh if first_time else alone).append(job)
    return layout_requests(fresh, cfg, sources, teacher) + alone


def _submit_one(store: RunStore, teacher: Teacher, provider: BatchClient, items: list,
                requests: list[BatchedRequest], summary: BatchSummary) -> None:
    name = f"docdistill-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(4)}"
    store.record_batch_job(BatchJob(name, teacher.name, teacher.model, teacher.generation_params(),
                                    state=BATCH_SUBMITTING), requests)
    try:
        job_id, status, file_id = provider.submit(items, name)
    except JobStateUnknown:
        raise                          # stays "submitting": the next run finds it by name, or frees its keys
    except TeacherFatalError:
        store.drop_batch_job(name)     # refused for sure: nothing was started, nothing to pay for
        raise
    store.confirm_batch_job(name, job_id, status, file_id)
    summary.jobs_submitted += 1
    summary.requests_submitted += len(items)     # requests sent: a combined one answers several keys
    summary.requests += len(items)
    summary.jobs.append({"job": job_id, "state": "submitted", "requests": len(items)})


def resolve_unconfirmed(store: RunStore, teacher: Teacher, provider: BatchClient, summary: BatchSummary) -> None:
    """Jobs whose create call got no answer: adopt the ones the provider has, forget the others."""
    for job in store.batch_jobs(BATCH_SUBMITTING, teacher.name, teacher.model):
        found = provider.find(job.job_id, job.submitted_at)
        if found is None:
            store.drop_batch_job(job.job_id)
            summary.warnings["batch_never_started"] += 1
        else:
            store.confirm_batch_job(job.job_id, *found)
            summary.jobs.append({"job": found[0], "state": "recovered", "requests": job.requests})
