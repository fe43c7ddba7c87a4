"""Rate limits: requests per minute paced, tokens per minute with estimates corrected by usage."""

from __future__ import annotations

import asyncio
import time

from pipeline.label.ratelimit import RateLimiter, TokenBucket


def _timed(limiter: RateLimiter, costs: list[int]) -> list[float]:
    async def go() -> list[float]:
        start, times = time.monotonic(), []
        for cost in costs:
            await limiter.acquire(cost)
            times.append(time.monotonic() - start)
        return times
    return asyncio.run(go())


def test_rpm_paces_requests_evenly():
    times = _timed(RateLimiter(rpm=1200), [0] * 5)            # one every 50 ms, the first at once
    assert times[0] < 0.05 and 0.19 <= times[-1] < 1.0


def test_tpm_waits_for_tokens_and_usage_corrects_the_estimate():
    times = _timed(RateLimiter(tpm=6000), [50, 50, 50, 50])   # 100 tokens/s, a 100-token bucket
    assert times[1] < 0.05 and 0.9 <= times[-1] < 2.0
    limiter = RateLimiter(tpm=6000)
    _timed(limiter, [100])
    limiter.correct(estimated=100, used=10)                   # it used far fewer: 90 come back
    assert _timed(limiter, [90])[0] < 0.05


def test_a_request_bigger_than_the_bucket_goes_into_debt():
    clock = [0.0]
    bucket = TokenBucket(rate=10.0, capacity=10.0, clock=lambda: clock[0])
    assert bucket.wait_time(25) == 0.0                        # a full bucket is enough to start
    bucket.take(25)
    assert bucket.wait_time(1) == 1.6                         # 15 of debt + 1 token, at 10/s
    clock[0] = 1.6
    assert bucket.wait_time(1) == 0.0


def test_retry_after_pauses_everyone():
    limiter = RateLimiter()
    limiter.pause(0.2)
    assert 0.18 <= _timed(limiter, [0])[0] < 1.0
