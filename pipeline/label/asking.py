"""How one (page, task) answer is asked for: transient retries, the repair re-ask, a temperature ladder.

- A transient failure (429, 5xx, timeout, connection error) is sent again with exponential
  backoff and full jitter, waiting at least the provider's Retry-After, at most ``max_attempts``
  times per request (tenacity).
- An answer of the wrong shape gets one repair re-ask quoting the validation errors, then, while
  it stays wrong, fresh asks at rising temperatures (0 -> 0.3 -> 0.6): a deterministic model
  repeats its mistake at temperature 0. The ladder is bounded by ``max_attempts`` too.

``send(prompt, temperature)`` does the actual request (rate limits, budget, the thread pool);
it may raise ``StopSending`` (the run is stopping) or ``TeacherFatalError``: both end the ask.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tenacity import AsyncRetrying, retry_if_result, stop_after_attempt, wait_random_exponential

from pipeline.label.answers import REPAIRABLE, Checked, Outcome, check_reply, repair_prompt
from pipeline.tasks import Task
from pipeline.teachers import RETRYABLE, Reply

Send = Callable[[str, "float | None"], Awaitable[Reply]]
DEFAULT_LADDER = (0.3, 0.6)


class StopSending(Exception):
    """The run is stopping (a fatal provider error elsewhere, or the cost budget is spent)."""


@dataclass(frozen=True)
class AskPolicy:
    max_attempts: int = 1                  # per request: 1 = no transient retry, no ladder
    repair: bool = True
    ladder: tuple[float, ...] = DEFAULT_LADDER
    backoff_base_s: float = 1.0            # exponential backoff: up to base * 2^n seconds, jittered
    backoff_max_s: float = 60.0            # also caps a provider's Retry-After

    def ladder_from(self, base_temperature: float) -> list[float]:
        """The re-ask temperatures above the run's own, bounded by max_attempts.

        >>> AskPolicy(max_attempts=5).ladder_from(0.0), AskPolicy(max_attempts=2).ladder_from(0.0)
        ([0.3, 0.6], [0.3])
        >>> AskPolicy(max_attempts=5).ladder_from(0.5), AskPolicy().ladder_from(0.0)
        ([0.6], [])
        """
        return [t for t in self.ladder if t > base_temperature][:max(0, self.max_attempts - 1)]


@dataclass
class Answer:
    reply: Reply | None = None             # the last reply (its text is what gets stored)
    checked: Checked | None = None
    requests: int = 0                      # every request made for this answer, retries included
    tokens_in: int = 0
    tokens_out: int = 0
    tokens_cached: int = 0                 # of tokens_in: served from the provider's prompt cache
    retries: int = 0

    def count(self, reply: Reply) -> None:
        self.requests += 1
        self.tokens_in += reply.tokens_in
        self.tokens_out += reply.tokens_out
        self.tokens_cached += reply.tokens_cached


def backoff(policy: AskPolicy) -> Callable:
    """tenacity wait: full-jitter exponential backoff, but never less than the Retry-After given."""
    expo = wait_random_exponential(multiplier=policy.backoff_base_s, max=policy.backoff_max_s)

    def wait(state) -> float:
        delay = expo(state)
        reply = state.outcome.result() if not state.outcome.failed else None
        if reply is not None and reply.retry_after_s is not None:
            floor = min(reply.retry_after_s, policy.backoff_max_s)
            delay = max(delay, floor + random.uniform(0, 0.1 * floor))  # jitter: not all at once again
        return delay
    return wait


async def send_once(send: Send, text: str, temperature: float | None, policy: AskPolicy, answer: Answer) -> Reply:
    """One request, sent again while it fails transiently (at most ``max_attempts``); counted in ``answer``."""
    def count_retry(_state) -> None:
        answer.retries += 1

    retrying = AsyncRetrying(stop=stop_after_attempt(policy.max_attempts), wait=backoff(policy),
                             retry=retry_if_result(lambda r: r.status in RETRYABLE),
                             retry_error_callback=lambda state: state.outcome.result(),
                             before_sleep=count_retry)

    async def tracked() -> Reply:
        reply = await send(text, temperature)
        answer.count(reply)
        return reply
    return await retrying(tracked)


async def ask_answer(send: Send, task: Task, prompt: str, page_text: str | None, policy: AskPolicy,
                     base_temperature: float) -> Answer:
    """Ask until the answer is valid, a non-repairable outcome comes back, or the attempts run out."""
    answer = Answer()
    reply = await send_once(send, prompt, None, policy, answer)
    return await improve(answer, send, task, prompt, reply, page_text, policy, base_temperature)


async def improve(answer: Answer, send: Send, task: Task, prompt: str, reply: Reply, page_text: str | None,
                  policy: AskPolicy, base_temperature: float) -> Answer:
    """Check ``reply``; while it has the wrong shape: the repair re-ask, then the temperature ladder."""
    checked = check_reply(task, reply, page_text)
    if policy.repair and checked.outcome in REPAIRABLE:
        reply = await send_once(send, repair_prompt(prompt, reply.text, checked), None, policy, answer)
        checked = check_reply(task, reply, page_text)
        if checked.outcome is Outcome.OK:
            checked.warnings.insert(0, "repaired")
    for temperature in policy.ladder_from(base_temperature):
        if checked.outcome not in REPAIRABLE:
            break
        reply = await send_once(send, prompt, temperature, policy, answer)
        checked = check_reply(task, reply, page_text)
        if checked.outcome is Outcome.OK:
            checked.warnings.insert(0, f"temperature:{temperature:g}")
    answer.reply, answer.checked = reply, checked
    return answer
