"""``--dry-run``: what a label run would send and cost, before anything is sent.

Image tokens follow each provider's published rules (``Teacher.image_tokens``), prompt tokens are
counted high, and output tokens are assumed at DEFAULT_OUTPUT_TOKENS per answer (repair re-asks
and retries are not foreseen: the real figure can only be higher by those).
"""

from __future__ import annotations

from pipeline.label.cost import DEFAULT_OUTPUT_TOKENS, Price, text_tokens


def estimate_jobs(jobs, sources, teacher, anchor: bool, price: Price | None) -> dict:
    """Pages, requests, estimated tokens and USD for ``jobs`` (list of records.Job)."""
    plain_prompts: dict[str, int] = {}
    image_total = prompt_total = 0
    for job in jobs:
        image_total += teacher.image_tokens(job.page.width, job.page.height, price)
        if anchor:
            prompt_total += text_tokens(job.task.teacher_prompt(sources.page_text(job.page)))
        else:
            if job.task.name not in plain_prompts:
                plain_prompts[job.task.name] = text_tokens(job.task.teacher_prompt(None))
            prompt_total += plain_prompts[job.task.name]
    output_total = DEFAULT_OUTPUT_TOKENS * len(jobs) if teacher.priced else 0
    cost = price.cost(image_total + prompt_total, output_total) if price else None
    return {"pages": len({(j.page.doc_id, j.page.page_index) for j in jobs}), "requests": len(jobs),
            "image_tokens": image_total, "prompt_tokens": prompt_total,
            "output_tokens_assumed": output_total,
            "cost_usd": None if cost is None else round(cost, 6),
            "rule": teacher.image_rule()}
