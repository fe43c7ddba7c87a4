"""Checking a teacher's answer: salvage the JSON, validate it against the task, flag odd scripts.

Pure functions on text: every provider's answers go through exactly these checks, so an
outcome means the same thing whichever teacher produced it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import Enum

from pydantic import ValidationError

from pipeline.scripts import script_counts, strings_of
from pipeline.tasks import Task
from pipeline.teachers.base import Reply, ReplyStatus


class Outcome(str, Enum):
    """A label's recorded outcome. Values are stable: they are stored and reported."""

    OK = "ok"                          # validated (possibly salvaged or repaired: see warnings)
    INVALID = "invalid"                # JSON, but not what the schema asks for (after the repair re-ask)
    MALFORMED_JSON = "malformed_json"  # no JSON object could be recovered (after the repair re-ask)
    TRUNCATED = "truncated"
    REPETITION_LOOP = "repetition_loop"  # truncated while repeating itself (a looping model runs to the limit)
    SAFETY_BLOCKED = "safety_blocked"
    RECITATION_BLOCKED = "recitation_blocked"
    PROMPT_BLOCKED = "prompt_blocked"
    REFUSED = "refused"
    NO_TEXT_LAYER = "no_text_layer"
    UNREADABLE_PAGE = "unreadable_page"  # the offline teacher cannot read this page (MuPDF fails on it): the
                                         # same input fails the same way, so only --retry-failed asks again
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    REJECTED = "rejected"              # a batch provider refused this one request (4xx line in its error file)


# A rerun sends these again by itself: nothing was learnt about the page, only about the provider.
TRANSIENT = frozenset({Outcome.RATE_LIMITED, Outcome.SERVER_ERROR, Outcome.TIMEOUT, Outcome.CONNECTION_ERROR})
# What a repair re-ask can fix: the model answered, but not in the required shape.
REPAIRABLE = frozenset({Outcome.INVALID, Outcome.MALFORMED_JSON})

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_MAX_EMBEDDED_TRIES = 200


def salvage_json(text: str) -> tuple[dict | None, str]:
    """The answer's JSON object and how it was found: strict, code_fence, embedded, or none.

    >>> salvage_json('{"a": 1}')
    ({'a': 1}, 'strict')
    >>> salvage_json('Here you go:\\n```json\\n{"a": 1}\\n```')
    ({'a': 1}, 'code_fence')
    >>> salvage_json('Sure! {"a": {"b": 2}} Hope this helps {"c": 3}')
    ({'a': {'b': 2}}, 'embedded')
    >>> salvage_json('{"a": 1')
    (None, 'none')
    """
    stripped = text.strip()
    try:
        obj = json.loads(stripped)
        if isinstance(obj, dict):
            return obj, "strict"
    except json.JSONDecodeError:
        pass
    for block in _FENCE.findall(text):
        try:
            obj = json.loads(block)
            if isinstance(obj, dict):
                return obj, "code_fence"
        except json.JSONDecodeError:
            continue
    decoder = json.JSONDecoder()
    start = text.find("{")
    tries = 0
    while start != -1 and tries < _MAX_EMBEDDED_TRIES:  # first complete top-level object wins
        try:
            obj, _ = decoder.raw_decode(text, start)
            if isinstance(obj, dict):
                return obj, "embedded"
        except json.JSONDecodeError:
            pass
        start = text.find("{", start + 1)
        tries += 1
    return None, "none"


def foreign_scripts(data: dict, page_text: str | None) -> list[str]:
    """Scripts in the answer's values that the page does not contain (e.g. Chinese in an Arabic page).

    Latin is never flagged (codes, units and enum values are Latin on every page). With a text
    layer, any other script absent from it is foreign; without one (a scan), a script making up
    under 10% of the answer's non-Latin letters is, since a page is rarely written that way.

    >>> foreign_scripts({"markdown": "قانون رقم 12 中国"}, "قانون رقم 12 لسنة 2003 بشأن العمل")
    ['Han']
    >>> foreign_scripts({"markdown": "قانون الضرائب على الدخل 中"}, None)
    ['Han']
    >>> foreign_scripts({"markdown": "Invoice قانون"}, "قانون رقم 12 لسنة 2003 بشأن العمل")
    []
    """
    answer = script_counts(" ".join(strings_of(data)))
    answer.pop("Latin", None)
    if page_text and len(page_text.strip()) >= 20:
        page = script_counts(page_text)
        return sorted(s for s, n in answer.items() if n >= 1 and page.get(s, 0) == 0)
    total = sum(answer.values())
    return sorted(s for s, n in answer.items() if total and n / total < 0.10)


@dataclass
class Checked:
    outcome: Outcome
    data: dict | None = None
    errors: str = ""                   # validation errors, quoted in the repair re-ask
    warnings: list[str] = field(default_factory=list)
    note: str = ""                     # what an offline teacher says of a good answer (OCR confidence)


def _validation_summary(exc: ValidationError, limit: int = 20) -> str:
    lines = [f"- {'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()[:limit]]
    if exc.error_count() > limit:
        lines.append(f"- ... and {exc.error_count() - limit} more")
    return "\n".join(lines)


# What the summary says when the provider gave no message of its own: the cause and what to do.
_WHY = {
    ReplyStatus.TRUNCATED: "the answer was cut off at the output-token limit ({finish}, {tokens_out} tokens out): "
                           "raise --max-output-tokens (a new limit is a new request for every page)",
    ReplyStatus.SAFETY_BLOCKED: "the provider's safety filter withheld the answer ({finish}); the page stays out "
                                "of the dataset unless another teacher or model labels it",
    ReplyStatus.RECITATION_BLOCKED: "the provider withheld the answer because it would quote its sources verbatim "
                                    "({finish}); the page stays out of the dataset unless another teacher or model "
                                    "labels it",
}


def reply_detail(reply: Reply) -> str:
    """The provider's own message, or what the outcome means and what to do about it.

    >>> reply_detail(Reply(ReplyStatus.TRUNCATED, finish_reason="MAX_TOKENS", tokens_out=8192))[:70]
    'the answer was cut off at the output-token limit (MAX_TOKENS, 8192 tok'
    >>> reply_detail(Reply(ReplyStatus.SAFETY_BLOCKED, detail="blocked: violence"))
    'blocked: violence'
    """
    if reply.detail or reply.status not in _WHY:
        return reply.detail
    return _WHY[reply.status].format(finish=reply.finish_reason or reply.status.value, tokens_out=reply.tokens_out)


def check_reply(task: Task, reply: Reply, page_text: str | None = None) -> Checked:
    """Turn a teacher's reply into an outcome, validated data and warnings."""
    if reply.status is ReplyStatus.TRUNCATED:
        loop = repetition(reply.text, page_text)
        if loop is not None:
            return Checked(Outcome.REPETITION_LOOP, errors=f"the answer repeats {loop!r} until the output limit")
    if reply.status is not ReplyStatus.COMPLETE:
        return Checked(Outcome(reply.status.value), errors=reply_detail(reply))
    if reply.data is not None:
        obj, how = reply.data, "strict"
    else:
        obj, how = salvage_json(reply.text)
    if obj is None:
        return Checked(Outcome.MALFORMED_JSON, errors="the answer is not a JSON object")
    try:
        data = task.parse(obj).model_dump(mode="json")
    except ValidationError as exc:
        return Checked(Outcome.INVALID, errors=_validation_summary(exc))
    warnings = [] if how == "strict" else [f"salvaged:{how}"]
    warnings += [f"foreign_script:{s}" for s in foreign_scripts(data, page_text)]
    return Checked(Outcome.OK, data=data, warnings=warnings, note=reply.detail if reply.data is not None else "")


def repetition(text: str, page_text: str | None) -> str | None:
    """The run of words a cut-off answer loops on (more often than the page's text layer has it), or None.

    The evaluation taxonomy's own test (``repetition_loop``), so both name the same answers.

    >>> repetition('{"markdown": "| 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00 | 0.00', None)
    '| 0.00 | 0.00'
    >>> repetition('{"markdown": "# Invoice 42 ... the total is 12.50 and the date', None) is None
    True
    """
    from pipeline.evaluation.taxonomy import TaxonomyConfig, repeated_ngram  # only cut-off answers need it

    config = TaxonomyConfig()
    return repeated_ngram([text], [page_text] if page_text else [], config.repetition_ngram,
                          config.repetition_threshold)


def repair_prompt(prompt: str, raw_text: str, checked: Checked, max_quote: int = 2000) -> str:
    """The teacher prompt again, plus what was wrong with the previous answer."""
    quoted = raw_text if len(raw_text) <= max_quote else raw_text[:max_quote] + " ...[cut]"
    return (f"{prompt}\n\n## Your previous answer was rejected\nProblems:\n{checked.errors}\n"
            f"Previous answer:\n<previous_answer>\n{quoted}\n</previous_answer>\n"
            "Answer again with ONLY the corrected JSON object.")
