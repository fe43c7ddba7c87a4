"""``--one-request-per-page``: every task of a page answered by one request, split back into one label per task.

The combined request sends the page image once (a page's image is ~1,000 input tokens per task
otherwise) and one static prompt, the same for every page, so the provider's prompt cache serves it.
Its schema is generated from the task models (one property per task, each that task's own model),
and its answer is split back into one answer per task, each checked by its own model exactly as a
single-task answer is (``check_reply``). A part that comes back invalid or malformed gets one repair
re-ask of its own task alone (then the temperature ladder, as online); a combined answer cut off at
the output limit, or with no JSON object at all, is asked again task by task (``ask_page``).

What it trades: one answer for both tasks shares one output-token limit, and one bad page costs
both tasks a re-ask. The default stays one request per task (README, "Cost").
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, replace

from pydantic import ConfigDict, Field, create_model

from pipeline.label.answers import salvage_json
from pipeline.label.asking import Answer, AskPolicy, Send, ask_answer, improve, send_once
from pipeline.records import Job
from pipeline.tasks import Task
from pipeline.teachers import Reply, ReplyStatus

_INTRO = ("You answer {count} tasks about the same page at once: {names}. Each section below gives one task's "
          "instructions; where a section speaks of its JSON Schema, it means that task's property of the "
          "combined JSON Schema.")
_OWN_OUTPUT = "\n## Output\n"   # a task's own output section: the combined one below says it once for all
_OUTPUT = ("## Output\nReturn ONLY one JSON object, no prose and no code fences, with one property per task "
           "({names}), each holding that task's answer, that validates against this JSON Schema:\n{{schema}}")


@functools.lru_cache(maxsize=16)
def combined_task(tasks: tuple[Task, ...]) -> Task:
    """One task whose answer is ``{task name: that task's answer}``; its prompt is every task's prompt.

    >>> from pipeline.tasks import resolve_tasks
    >>> both = combined_task(tuple(resolve_tasks(["content", "metadata"])))
    >>> both.name, sorted(both.model.model_json_schema()["properties"]), "{schema}" in both.teacher_template
    ('content+metadata', ['content', 'metadata'], True)
    """
    names = ", ".join(f"`{t.name}`" for t in tasks)
    sections = [_INTRO.format(count=len(tasks), names=names)]
    for task in tasks:
        body = task.teacher_template
        head, found, tail = body.rpartition(_OWN_OUTPUT)
        if found and "{schema}" in tail:       # "Return ONLY one JSON object ... {schema}": said once, below
            body = head.rstrip()
        body = body.replace("{schema}", f"(the `{task.name}` property of the combined JSON Schema)")
        sections.append(f"# Task `{task.name}`\n{body}")
    sections.append(_OUTPUT.format(names=names))
    fields = {task.name: (task.model, Field(...)) for task in tasks}
    model = create_model("PageLabel", __config__=ConfigDict(extra="forbid"), **fields)
    return Task(name="+".join(t.name for t in tasks), model=model, teacher_template="\n\n".join(sections),
                student_prompt="", source="(combined)", schema_json=model.model_json_schema())


KEY_SEPARATOR = "+"     # a combined request's key: its tasks' request keys (hex) joined by it


@dataclass(frozen=True)
class PageJobs:
    """The jobs of one page (two or more tasks still to answer), asked with one request."""

    jobs: tuple[Job, ...]

    @property
    def combined(self) -> Task:
        return combined_task(tuple(job.task for job in self.jobs))

    @property
    def key(self) -> str:
        """The combined request's own key (a Batch request's id): its tasks' request keys, in order."""
        return KEY_SEPARATOR.join(job.key for job in self.jobs)


def member_keys(key: str) -> list[str]:
    """The request keys a request answers: its own, or a combined request's tasks' (``PageJobs.key``).

    >>> member_keys("ab12+cd34"), member_keys("ab12")
    (['ab12', 'cd34'], ['ab12'])
    """
    return key.split(KEY_SEPARATOR)


def group_by_page(jobs: list[Job]) -> list[Job | PageJobs]:
    """Jobs of the same rendered image grouped (in first-seen order); a page with one task left stays a Job.

    Grouped by image, not by page: pages with the same image share one request key per task already.
    """
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        groups.setdefault(job.page.image_sha256, []).append(job)
    return [group[0] if len(group) == 1 else PageJobs(tuple(group)) for group in groups.values()]


def split_reply(tasks: tuple[Task, ...], reply: Reply) -> dict[str, Reply] | None:
    """One Reply per task from a complete combined reply; None when it holds no JSON object to split.

    Tokens are shared out: input evenly, output by the length of each task's part (the totals stay exact).

    >>> from pipeline.tasks import resolve_tasks
    >>> tasks = tuple(resolve_tasks(["content", "metadata"]))
    >>> parts = split_reply(tasks, Reply(ReplyStatus.COMPLETE, '{"content": {"a": 1}, "metadata": {}}', "STOP", 11, 7, 4))
    >>> parts["content"].text, parts["metadata"].text, [(p.tokens_in, p.tokens_out, p.tokens_cached) for p in parts.values()]
    ('{"a": 1}', '{}', [(6, 6, 2), (5, 1, 2)])
    >>> split_reply(tasks, Reply(ReplyStatus.COMPLETE, "no json here")) is None
    True
    """
    obj, _ = salvage_json(reply.text)
    if obj is None:
        return None
    texts = {t.name: json.dumps(obj[t.name], ensure_ascii=False) if t.name in obj else "" for t in tasks}
    lengths = [len(text) for text in texts.values()]
    shares_out = share_out(reply.tokens_out, lengths if sum(lengths) else [1] * len(tasks))
    shares_in = share_out(reply.tokens_in, [1] * len(tasks))
    shares_cached = share_out(reply.tokens_cached, [1] * len(tasks))
    return {t.name: Reply(ReplyStatus.COMPLETE, text=texts[t.name], finish_reason=reply.finish_reason,
                          tokens_in=shares_in[i], tokens_out=shares_out[i], tokens_cached=shares_cached[i])
            for i, t in enumerate(tasks)}


def replies_per_task(tasks: tuple[Task, ...], reply: Reply) -> dict[str, Reply]:
    """Each task's part of a combined reply (a Batch answer): its own JSON where the reply holds an object
    to split, else the reply itself (cut off, refused, no JSON object) for every task, tokens shared out.
    Each part is then checked by its own task's model, as a single-task reply is (``check_reply``).

    >>> from pipeline.tasks import resolve_tasks
    >>> tasks = tuple(resolve_tasks(["content", "metadata"]))
    >>> cut = replies_per_task(tasks, Reply(ReplyStatus.TRUNCATED, '{"content": {"a"', "MAX_TOKENS", 10, 8))
    >>> [(r.status.value, r.tokens_in, r.tokens_out) for r in cut.values()]
    [('truncated', 5, 4), ('truncated', 5, 4)]
    """
    parts = split_reply(tasks, reply) if reply.status is ReplyStatus.COMPLETE else None
    return parts if parts is not None else share_reply(tasks, reply)


def share_out(total: int, weights: list[int]) -> list[int]:
    """``total`` split in proportion to ``weights``, rounded down, the remainder to the first.

    >>> share_out(10, [1, 1, 1]), share_out(7, [3, 1])
    ([4, 3, 3], [6, 1])
    """
    parts = [total * w // sum(weights) for w in weights]
    parts[0] += total - sum(parts)
    return parts


def charge(answer: Answer, reply: Reply, first: Answer | None) -> None:
    """Put a share of the combined request's tokens (and, on the first task's answer, its request count)
    on one task's answer."""
    if first is not None:
        answer.requests += first.requests
        answer.retries += first.retries
    answer.tokens_in += reply.tokens_in
    answer.tokens_out += reply.tokens_out
    answer.tokens_cached += reply.tokens_cached


def share_reply(tasks: tuple[Task, ...], reply: Reply) -> dict[str, Reply]:
    """``reply`` (a failure: refused, blocked, cut off ...) as every task's reply, its tokens shared out."""
    shares = split_reply(tasks, Reply(ReplyStatus.COMPLETE, "{}", tokens_in=reply.tokens_in,
                                      tokens_out=reply.tokens_out, tokens_cached=reply.tokens_cached))
    return {t.name: replace(reply, tokens_in=shares[t.name].tokens_in, tokens_out=shares[t.name].tokens_out,
                            tokens_cached=shares[t.name].tokens_cached) for t in tasks}


async def ask_page(send_combined: Send, send_for: dict[str, Send], group: PageJobs, prompt: str,
                   prompts: dict[str, str], page_text: str | None, policy: AskPolicy,
                   base_temperature: float) -> tuple[dict[str, Answer], Exception | None]:
    """Each task's Answer (by request key) for one page: one combined request, then single-task re-asks
    where a part failed.

    ``prompt``: the combined task's prompt for this page; ``prompts``/``send_for``: each task's own
    prompt and sender, for its repair re-ask or, when the combined answer cannot be split (cut off at
    the output limit, or no JSON object in it), its own fresh ask. The combined request is counted on
    the first task's answer; its tokens are shared out over the tasks. Returns the answers got and the
    error (StopSending, TeacherFatalError ...) that stopped a follow-up request, if one did: the answers
    already paid for are kept, the tasks after it have none. The combined request's own error raises.
    """
    tasks = tuple(job.task for job in group.jobs)
    first = Answer()
    reply = await send_once(send_combined, prompt, None, policy, first)
    if reply.status is ReplyStatus.COMPLETE:
        parts = split_reply(tasks, reply)
    elif reply.status is ReplyStatus.TRUNCATED:
        parts = None
    else:                              # refused, blocked, or still failing transiently: so is every task
        parts = share_reply(tasks, reply)
    answers: dict[str, Answer] = {}
    for i, task in enumerate(tasks):
        try:
            if parts is None:
                answer = await ask_answer(send_for[task.name], task, prompts[task.name], page_text, policy,
                                          base_temperature)
                answer.checked.warnings.append("one_request_per_page:asked_alone")
                charge(answer, share_reply(tasks, reply)[task.name], first if i == 0 else None)
            else:
                answer = Answer()
                charge(answer, parts[task.name], first if i == 0 else None)
                answer = await improve(answer, send_for[task.name], task, prompts[task.name], parts[task.name],
                                       page_text, policy, base_temperature)
        except Exception as exc:       # the run is stopping: keep what is back
            return answers, exc
        answers[group.jobs[i].key] = answer
    return answers, None
