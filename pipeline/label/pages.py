"""``--pages-per-request N``: several pages in one request, every task of each, split back per page and task.

The static prompt and the response schema are billed with every request; a request for N pages pays
for them once, so per page they cost 1/N (what keeps GPT-4o, whose cached rate is half its input
rate and whose Batch API has none, near the image-and-output floor: README, "Cost"). The answer is
``{"page_1": <page 1's answer>, ...}``, each page's answer the single-page request's (one task's,
or ``--one-request-per-page``'s ``{task: answer}``); the schema is generated from the task models.

Each part is checked by its own task's model, as a single-page answer is; a part that fails gets
its own task's repair re-ask alone (with its page alone). An answer cut off at the output limit, or
with no JSON object in it, is asked again page by page (``ask_page``, or the task alone).

What it trades: pages of different documents share a request, so a model may carry something from
one page into another's answer; the output limit (``--max-output-tokens``) is shared by N pages;
one bad answer costs N pages a re-ask. Quality against single-page requests is not measured here:
the default stays one page per request.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, replace

from pydantic import ConfigDict, Field, create_model

from pipeline.label.answers import salvage_json
from pipeline.label.asking import Answer, AskPolicy, Send, ask_answer, improve, send_once
from pipeline.label.cost import text_tokens
from pipeline.label.combined import KEY_SEPARATOR, PageJobs, ask_page, charge, replies_per_task, share_out
from pipeline.records import Job
from pipeline.tasks import Task
from pipeline.teachers import Reply, ReplyStatus

MAX_PAGES_PER_REQUEST = 8
OUTPUT_SHARE = 0.5     # of --max-output-tokens, for a request's estimated answers (answer_tokens counts high)
_INTRO = ("This request shows {n} page images, each after its label `Page k of {n}`; they may come from "
          "different documents. Answer every page on its own, from that page alone, exactly as the instructions "
          "below describe for one page: never carry a name, number or date from one page into another's answer.")
_OWN_OUTPUT = "\n## Output\n"
_OUTPUT = ("## Output\nReturn ONLY one JSON object, no prose and no code fences, with one property per page "
           "(`page_1` for Page 1, up to `page_{n}`), each holding that page's answer as described above, that "
           "validates against this JSON Schema:\n{{schema}}")


@functools.lru_cache(maxsize=32)
def pages_task(inner: Task, n: int) -> Task:
    """One task whose answer is ``{"page_1": inner's answer for page 1, ...}``.

    >>> from pipeline.tasks import resolve_tasks
    >>> four = pages_task(resolve_tasks(["content"])[0], 4)
    >>> four.name, sorted(four.model.model_json_schema()["properties"]), four.teacher_template.count("{schema}")
    ('content x4', ['page_1', 'page_2', 'page_3', 'page_4'], 1)
    """
    body = inner.teacher_template
    head, found, tail = body.rpartition(_OWN_OUTPUT)
    if found and "{schema}" in tail:           # the one-page output paragraph: said once for all, below
        body = head.rstrip()
    body = body.replace("{schema}", "(the schema of each `page_k` property of the JSON Schema below)")
    template = "\n\n".join([_INTRO.format(n=n), body, _OUTPUT.format(n=n)])
    fields = {f"page_{k}": (inner.model, Field(...)) for k in range(1, n + 1)}
    model = create_model("PagesLabel", __config__=ConfigDict(extra="forbid"), **fields)
    return Task(name=f"{inner.name} x{n}", model=model, teacher_template=template, student_prompt="",
                source="(pages)", schema_json=model.model_json_schema())


@dataclass(frozen=True)
class PagesJobs:
    """The jobs of several pages (each a Job, or a PageJobs with the page's tasks), asked with one request."""

    pages: tuple[Job | PageJobs, ...]

    @property
    def jobs(self) -> tuple[Job, ...]:
        return tuple(job for page in self.pages for job in page_jobs(page))

    @property
    def task(self) -> Task:
        return pages_task(page_task(self.pages[0]), len(self.pages))

    @property
    def key(self) -> str:
        """The request's own key (a Batch request's id): its jobs' request keys, page by page, in order."""
        return KEY_SEPARATOR.join(job.key for job in self.jobs)


def page_task(item: Job | PageJobs) -> Task:
    """The task one page is asked under: its one task, or its tasks combined."""
    return item.combined if isinstance(item, PageJobs) else item.task


def page_jobs(item: Job | PageJobs) -> tuple[Job, ...]:
    """The jobs of one page: its one job, or its tasks' jobs."""
    return item.jobs if isinstance(item, PageJobs) else (item,)


def answer_tokens(page_text: str | None) -> int:
    """A page's answer (every task), estimated before asking, from its text layer.

    On the corpus, content answers ran 1.1x (median) to 1.4x (mean) the text layer's tokens and metadata
    ~170 tokens; counted high: 1.5x plus 250, and at least 900 (a scan: the corpus' mean answer).

    >>> answer_tokens(None), answer_tokens("x" * 4000)
    (900, 1750)
    """
    return max(900, int(1.5 * text_tokens(page_text or "")) + 250)


def chunk(sizes: list[int], n: int, budget: int) -> list[range]:
    """Consecutive items, at most ``n`` and at most ``budget`` (summed sizes) to a chunk; an item over the
    budget alone.

    >>> [list(c) for c in chunk([900, 900, 3500, 900, 900, 900, 900, 900], 4, 4096)]
    [[0, 1], [2], [3, 4, 5, 6], [7]]
    """
    chunks, start, total = [], 0, 0
    for i, size in enumerate(sizes):
        if i > start and (i - start == n or total + size > budget):
            chunks.append(range(start, i))
            start, total = i, 0
        total += size
    if sizes:
        chunks.append(range(start, len(sizes)))
    return chunks


def group_pages(items: list[Job | PageJobs], n: int, budget: int, size) -> list[Job | PageJobs | PagesJobs]:
    """Consecutive pages asked under the same tasks, ``n`` to a request and their estimated answers
    (``size(item)``, ``answer_tokens``) within ``budget``: a share of the output limit, so that an answer
    is seldom cut off (then it is asked again page by page). A page left alone stays as it was."""
    out: list[Job | PageJobs | PagesJobs] = []
    start = 0
    for end in range(1, len(items) + 1):
        if end < len(items) and page_task(items[end]).name == page_task(items[start]).name:
            continue
        run = items[start:end]
        for part in chunk([size(item) for item in run], n, budget):
            out.append(run[part.start] if len(part) == 1 else PagesJobs(tuple(run[i] for i in part)))
        start = end
    return out


def split_pages(n: int, reply: Reply) -> list[Reply] | None:
    """One Reply per page from a complete ``{"page_k": ...}`` reply (None: no JSON object in it); tokens
    shared out, input and cached evenly, output by the length of each page's part.

    >>> parts = split_pages(2, Reply(ReplyStatus.COMPLETE, '{"page_1": {"a": 1}, "page_2": {}}', "STOP", 9, 7, 4))
    >>> [(p.text, p.tokens_in, p.tokens_out, p.tokens_cached) for p in parts]
    [('{"a": 1}', 5, 6, 2), ('{}', 4, 1, 2)]
    """
    obj, _ = salvage_json(reply.text)
    if obj is None:
        return None
    texts = [json.dumps(obj[f"page_{k}"], ensure_ascii=False) if f"page_{k}" in obj else "" for k in range(1, n + 1)]
    lengths = [len(text) for text in texts]
    outs = share_out(reply.tokens_out, lengths if sum(lengths) else [1] * n)
    ins, cached = share_out(reply.tokens_in, [1] * n), share_out(reply.tokens_cached, [1] * n)
    return [Reply(ReplyStatus.COMPLETE, text=texts[k], finish_reason=reply.finish_reason, tokens_in=ins[k],
                  tokens_out=outs[k], tokens_cached=cached[k]) for k in range(n)]


def replies_per_page(n: int, reply: Reply) -> list[Reply]:
    """Each page's part of a reply: split where it holds an object, else the reply itself for every page."""
    parts = split_pages(n, reply) if reply.status is ReplyStatus.COMPLETE else None
    if parts is not None:
        return parts
    ins, outs, cached = (share_out(total, [1] * n) for total in (reply.tokens_in, reply.tokens_out, reply.tokens_cached))
    return [replace(reply, tokens_in=ins[k], tokens_out=outs[k], tokens_cached=cached[k]) for k in range(n)]


def replies_per_request(slots: list[tuple[int, Task]], tasks_by_page: list[tuple[Task, ...]], reply: Reply) -> list[Reply]:
    """A Batch answer split for every (page slot, task) the request asked, in that order."""
    per_page = replies_per_page(len(tasks_by_page), reply) if len(tasks_by_page) > 1 else [reply]
    parts = [replies_per_task(tasks, part) if len(tasks) > 1 else {tasks[0].name: part}
             for tasks, part in zip(tasks_by_page, per_page)]
    return [parts[slot][task.name] for slot, task in slots]


@dataclass(frozen=True)
class PageAsk:
    """What a follow-up for one page needs: its senders and prompts, and its text layer for the checks."""

    item: Job | PageJobs
    send_page: Send | None                 # the page's own combined request (PageJobs), else None
    send_for: dict[str, Send]              # task name -> that task alone, for this page
    prompts: dict[str, str]                # task name -> that task's prompt
    prompt_page: str | None                # the page's combined prompt (PageJobs)
    page_text: str | None


async def ask_pages(send: Send, group: PagesJobs, prompt: str, asks: list[PageAsk], policy: AskPolicy,
                    base_temperature: float) -> tuple[dict[str, Answer], Exception | None]:
    """Each job's Answer (by request key): one request for every page, then per-page follow-ups where needed.

    The request is counted on the first job's answer; its tokens are shared out over pages, then tasks.
    Returns the answers got and the error that stopped a follow-up, if one did (the answers paid for
    are kept). The request's own error raises.
    """
    first = Answer()
    reply = await send_once(send, prompt, None, policy, first)
    cut = reply.status is ReplyStatus.TRUNCATED or (reply.status is ReplyStatus.COMPLETE
                                                    and split_pages(len(asks), reply) is None)
    answers: dict[str, Answer] = {}
    for slot, (ask, part) in enumerate(zip(asks, replies_per_page(len(asks), reply))):
        counted = first if slot == 0 else None
        try:
            if cut:
                got = await _ask_again(ask, policy, base_temperature)
            else:
                got = await _improve_page(ask, part, counted, policy, base_temperature)
        except Exception as exc:           # the run is stopping: keep what is back
            return answers, exc
        if cut:                            # the page's share of the cut-off request, on top of its own asks
            shares = _per_task(ask.item, part)
            for i, job in enumerate(page_jobs(ask.item)):
                charge(got[job.key], shares[job.task.name], counted if i == 0 else None)
                got[job.key].checked.warnings.append("pages_per_request:asked_alone")
        answers.update(got)
    return answers, None


def _per_task(item: Job | PageJobs, part: Reply) -> dict[str, Reply]:
    tasks = tuple(job.task for job in page_jobs(item))
    return replies_per_task(tasks, part) if len(tasks) > 1 else {tasks[0].name: part}


async def _improve_page(ask: PageAsk, part: Reply, first: Answer | None, policy: AskPolicy,
                        base_temperature: float) -> dict[str, Answer]:
    """One page's part checked per task; a failing task's repair re-ask alone, with its page alone."""
    parts = _per_task(ask.item, part)
    out = {}
    for i, job in enumerate(page_jobs(ask.item)):
        answer = Answer()
        charge(answer, parts[job.task.name], first if i == 0 else None)
        out[job.key] = await improve(answer, ask.send_for[job.task.name], job.task, ask.prompts[job.task.name],
                                     parts[job.task.name], ask.page_text, policy, base_temperature)
    return out


async def _ask_again(ask: PageAsk, policy: AskPolicy, base_temperature: float) -> dict[str, Answer]:
    """One page asked on its own: its tasks in one request (``ask_page``), or its one task."""
    if isinstance(ask.item, PageJobs):
        answers, error = await ask_page(ask.send_page, ask.send_for, ask.item, ask.prompt_page, ask.prompts,
                                        ask.page_text, policy, base_temperature)
        if error is not None:
            raise error
        return answers
    job = ask.item
    return {job.key: await ask_answer(ask.send_for[job.task.name], job.task, ask.prompts[job.task.name],
                                      ask.page_text, policy, base_temperature)}
