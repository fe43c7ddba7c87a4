"""Requests-per-minute and tokens-per-minute limits for the label scheduler (asyncio, one loop).

Each limit is a token bucket refilled at ``per_minute / 60`` per second. A request waits until
its bucket holds its cost (or a full bucket, for a request bigger than the bucket), then takes
it, possibly into debt: the average rate holds for requests of any size. Token costs are
estimated before the call and corrected with the provider's reported usage after it.
A 429 with Retry-After pauses every request, not only the one that got it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    """A bucket of ``capacity`` units refilled at ``rate`` units per second; the level may go negative.

    >>> bucket = TokenBucket(rate=1.0, capacity=2.0, clock=lambda: 0.0)
    >>> bucket.wait_time(2.0), bucket.take(2.0), bucket.wait_time(1.0)
    (0.0, None, 1.0)
    """

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float] = time.monotonic):
        self.rate, self.capacity, self.clock = rate, capacity, clock
        self.level = capacity
        self.updated = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_time(self, cost: float) -> float:
        """Seconds until ``cost`` (at most a full bucket) can be taken."""
        self._refill()
        need = min(cost, self.capacity) - self.level
        return max(0.0, need / self.rate)

    def take(self, cost: float) -> None:
        self._refill()
        self.level -= cost

    def give_back(self, amount: float) -> None:
        """Correct an estimate: a positive amount was over-charged, a negative one under-charged."""
        self._refill()
        self.level = min(self.capacity, self.level + amount)


class RateLimiter:
    """``--rpm`` and ``--tpm`` (None: no limit), shared by every request of a run, FIFO."""

    def __init__(self, rpm: float | None = None, tpm: float | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        # One request at a time: a steady pace, no burst the provider would answer with 429s.
        self.requests = TokenBucket(rpm / 60.0, 1.0, clock) if rpm else None
        # A second's worth of tokens: bursts stay small, a big request waits for a full bucket.
        self.tokens = TokenBucket(tpm / 60.0, max(1.0, tpm / 60.0), clock) if tpm else None
        self.paused_until = 0.0
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        """Hold every new request for ``seconds`` (the provider said Retry-After)."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    async def acquire(self, tokens: int) -> None:
        """Wait for a request slot and ``tokens`` of token budget, then take them."""
        async with self._lock:            # FIFO: an early waiter is never overtaken
            while True:
                wait = max(0.0, self.paused_until - self.clock())
                if self.requests:
                    wait = max(wait, self.requests.wait_time(1.0))
                if self.tokens:
                    wait = max(wait, self.tokens.wait_time(tokens))
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            if self.requests:
                self.requests.take(1.0)
            if self.tokens:
                self.tokens.take(tokens)

    def correct(self, estimated: int, used: int) -> None:
        """The provider's usage replaces the estimate in the token budget."""
        if self.tokens and used:
            self.tokens.give_back(estimated - used)
