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

from pipeline.errors import ConfigError
from pipeline.label.batch.collect import collect_jobs
from pipeline.label.batch.jobs import BatchConfig, BatchSummary, format_batch  # noqa: F401 (re-exported)
from pipeline.label.batch.submit import resolve_unconfirmed, submit_jobs
from pipeline.label.cost import PriceTable, load_prices
from pipeline.label.sources import PageSources
from pipeline.label.stage import LabelConfig, check_one_request_per_page
from pipeline.records import BATCH_COLLECTED, BATCH_FAILED
from pipeline.store import RunStore
from pipeline.teachers import Teacher, batch_teacher_names


def batch_client(teacher: Teacher):
    """The teacher's Batch API client, or a ConfigError that says which teachers have one."""
    client = teacher.batch_client()
    if client is None:
        raise ConfigError(f"--batch/--collect work with --teacher {' or '.join(batch_teacher_names())}, not "
                          f"{teacher.name!r} (a local server has no Batch API: label it online)")
    return client


def run_batch(sources: PageSources, cfg: LabelConfig, bcfg: BatchConfig, store: RunStore, teacher: Teacher,
              prices: PriceTable | None = None) -> BatchSummary:
    """Collect finished jobs, then submit what is left (unless --collect); with ``wait``, poll until done.

    Prices: ``prices``, else the label config's, else the table shipped with docdistill; the batch
    rate is the table's ``batch_discount``. ``cfg.dry_run`` estimates what would be submitted.
    """
    check_one_request_per_page(cfg, teacher)
    started = time.perf_counter()
    summary = BatchSummary(teacher=teacher.name, model=teacher.model)
    teacher.check_tasks(list(cfg.tasks))
    prices = prices or cfg.prices or load_prices()
    price = prices.get(teacher.model)
    summary.price_source = f"{price.source} (as of {price.as_of}), batch rate x{prices.batch_discount:g}" \
        if price else ""
    provider = batch_client(teacher)
    try:
        if cfg.dry_run:                # nothing written, nothing sent: the estimate only
            submit_jobs(cfg, bcfg, store, teacher, provider, summary, sources, prices)
            return summary
        store.ensure_batch_tables()
        store.put_tasks(cfg.tasks)
        resolve_unconfirmed(store, teacher, provider, summary)
        waiting = collect_jobs(cfg, store, teacher, provider, summary, sources, prices)
        if bcfg.submit:
            submit_jobs(cfg, bcfg, store, teacher, provider, summary, sources, prices)
            waiting += summary.jobs_submitted
        while bcfg.wait and waiting:
            time.sleep(bcfg.poll_interval_s)
            summary.jobs = [j for j in summary.jobs if j["state"] in ("submitted", BATCH_COLLECTED, BATCH_FAILED)]
            waiting = collect_jobs(cfg, store, teacher, provider, summary, sources, prices)
        mine = store.batch_jobs(provider=teacher.name, model=teacher.model)
        summary.jobs_pending, summary.requests_pending = len(mine), sum(j.requests for j in mine)
    finally:
        provider.close()
        summary.seconds = time.perf_counter() - started
    return summary
