"""``--dry-run``: what a label run would send and cost, before anything is sent.

Image tokens follow each provider's published rules (``Teacher.image_tokens``), prompt tokens are
counted high, and output tokens are assumed at DEFAULT_OUTPUT_TOKENS per answer (repair re-asks
and retries are not foreseen: the real figure can only be higher by those).

Prompt caching is assumed as the provider documents it (``Teacher.cached_prefix_tokens``): the static
prompt goes first in every request, so every request after the first with the same prompt is assumed
to hit the cache for it (a real run's first requests in flight together may all miss; the run's
summary reports what the provider actually served from its cache).

A teacher that sends the task's JSON Schema as the response schema (``Teacher.response_schema``) is billed
for it as input tokens too (both providers count it): counted like the prompt, and as part of the cached
prefix only where the provider documents it (``caches_schema``).
"""

from __future__ import annotations

import json

from pipeline.label.combined import PageJobs, group_by_page
from pipeline.label.pages import PagesJobs
from pipeline.label.cost import DEFAULT_OUTPUT_TOKENS, Price, text_tokens


def estimate_jobs(jobs, sources, teacher, anchor: bool, price: Price | None, one_request_per_page: bool = False,
                  discount: float = 1.0, groups: list | None = None) -> dict:
    """Pages, requests, estimated tokens and USD for ``jobs`` (list of records.Job); ``discount``: the
    Batch rate (1: online), applied with the Batch cached rate (``Price.cached_rate``); ``groups``: the
    requests the jobs go in (Jobs and PageJobs), where the caller has laid them out already."""
    static_tokens: dict[str, int] = {}        # task (or combined task) name -> its static prompt's tokens
    schema_tokens: dict[str, int] = {}        # ... and its response schema's (once a task: a schema dump each)
    image_total = prompt_total = cached_total = 0
    if groups is None:
        groups = group_by_page(jobs) if one_request_per_page else jobs
    for item in groups:
        task, pages = _request_of(item)
        page = pages[0]
        image_total += sum(teacher.image_tokens(p.width, p.height, price) for p in pages)
        if task.name not in schema_tokens:
            schema_tokens[task.name] = response_schema_tokens(teacher, task)
        schema = schema_tokens[task.name]
        if task.name in static_tokens:        # the same static prefix as an earlier request: cached
            cached_total += teacher.cached_prefix_tokens(static_tokens[task.name]
                                                         + (schema if teacher.caches_schema else 0))
        else:
            static_tokens[task.name] = text_tokens(teacher.prompt_for(task, None))
        if anchor:
            prompt_total += schema + text_tokens(teacher.prompt_for(task, sources.page_text(page)))
        else:
            prompt_total += schema + static_tokens[task.name]
    requests = len(groups)
    output_total = DEFAULT_OUTPUT_TOKENS * len(jobs) if teacher.priced else 0
    cost = price.cost(image_total + prompt_total, output_total, discount, cached_total) if price else None
    return {"pages": len({(j.page.doc_id, j.page.page_index) for j in jobs}), "requests": requests,
            "image_tokens": image_total, "prompt_tokens": prompt_total, "cached_tokens_assumed": cached_total,
            "output_tokens_assumed": output_total,
            "cost_usd": None if cost is None else round(cost, 6),
            "rule": teacher.image_rule(), "caching": f"{teacher.cache_rule} (assumed for every request after "
                                                     "the first with the same static prompt)",
            "one_request_per_page": one_request_per_page}


def response_schema_tokens(teacher, task) -> int:
    """Input tokens of the response schema ``teacher`` sends with ``task`` (0: it sends none), counted high."""
    schema = teacher.response_schema(task)
    return 0 if schema is None else text_tokens(json.dumps(schema, ensure_ascii=False, separators=(",", ":")))


def _request_of(item) -> tuple:
    """(the task a request is asked under, the pages it shows) for a Job, PageJobs or PagesJobs."""
    if isinstance(item, PagesJobs):
        return item.task, [(page.jobs[0] if isinstance(page, PageJobs) else page).page for page in item.pages]
    if isinstance(item, PageJobs):
        return item.combined, [item.jobs[0].page]
    return item.task, [item.page]
