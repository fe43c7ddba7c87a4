"""The circuit breaker: a teacher that answers nothing stops the run, instead of every page failing 5 times.

A wrong ``--base-url``, a server that is down or a provider outage make every request fail with a
transient status (5xx, timeout, connection error). Retrying each (page, task) ``--max-attempts``
times would cost 5M attempts on 1M pages and end in "success" with nothing labelled. So after
``failures`` such replies in a row with no answer in between, the breaker opens: no new request
is sent; after a pause (the longest retry backoff) one probe goes out. An answer to it (or to any
request still in flight) closes the breaker and the run goes on; another failure stops the run
with ``TeacherUnavailable``, naming the endpoint, the last error and what to check. Answers in
flight are stored; everything else is left for the next run.

``rate_limited`` neither counts nor resets: a 429 comes from a live provider that asks us to wait
(Retry-After already holds every request back), and its outcomes are retried by the next run.
A probe answered 429 closes the breaker (the endpoint is alive).
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

from pipeline.errors import TeacherUnavailable
from pipeline.teachers import Reply, ReplyStatus, Teacher

DEFAULT_FAILURES = 20
COUNTED = frozenset({ReplyStatus.SERVER_ERROR, ReplyStatus.TIMEOUT, ReplyStatus.CONNECTION_ERROR})


class Breaker:
    """Counts transient failures in a row; used from the engine's loop only (no locks)."""

    def __init__(self, failures: int = DEFAULT_FAILURES, pause_s: float = 60.0):
        self.threshold, self.pause_s = failures, pause_s
        self.in_a_row = 0
        self.last: Reply | None = None
        self.tripped = False
        self._generation = 0               # one per trip: a probe belongs to the trip it was chosen for
        self._probing = False
        self._settled: asyncio.Event | None = None   # set when the breaker closes or the run stops
        self._stopping: asyncio.Event | None = None

    def bound(self, most_failures: int) -> None:
        """A small run trips sooner: at most every attempt of every job can fail.

        >>> b = Breaker(20); b.bound(3 * 5); b.threshold
        15
        """
        self.threshold = max(1, min(self.threshold, most_failures))

    async def admit(self) -> bool:
        """Wait while the breaker is open; True if this request is the probe."""
        if not self.tripped:
            return False
        if self._probing:                  # another request probes: wait for the verdict
            await self._settled.wait()
            return False                   # closed: go on (stopped: the caller sees it)
        self._probing, generation = True, self._generation
        try:
            await asyncio.wait_for(self._stopping.wait(), self.pause_s)
        except asyncio.TimeoutError:
            pass
        return self.tripped and generation == self._generation

    def record(self, reply: Reply, probe: bool) -> bool:
        """Count one reply; True if it was the probe and it failed too: the teacher is unavailable."""
        if reply.status in COUNTED:
            self.in_a_row += 1
            self.last = reply
            if probe and self.tripped:
                return True
            if not self.tripped and self.in_a_row >= self.threshold:
                self._trip()
            return False
        if reply.status is ReplyStatus.RATE_LIMITED and not probe:
            return False
        self._close()                      # an answer of any kind: the endpoint is alive
        return False

    def release(self) -> None:
        """The run is stopping: wake the probe's pause and everyone waiting for it."""
        for event in (self._stopping, self._settled):
            if event is not None:
                event.set()

    def _trip(self) -> None:
        self.tripped, self._probing = True, False
        self._generation += 1
        self._settled = asyncio.Event()
        if self._stopping is None:
            self._stopping = asyncio.Event()

    def _close(self) -> None:
        self.in_a_row = 0
        if self.tripped:
            self.tripped = self._probing = False
            self._settled.set()

    def verdict(self, teacher: Teacher, probed: bool) -> TeacherUnavailable:
        return TeacherUnavailable(diagnosis(teacher, self.in_a_row, self.last, self.pause_s if probed else None))


def shown_url(url: str) -> str:
    """A base URL fit for a message: no user, password or query (a key may hide there).

    >>> shown_url("https://user:secret@llm.example.org:8443/v1?key=abc")
    'https://llm.example.org:8443/v1'
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def diagnosis(teacher: Teacher, failures: int, last: Reply | None, pause_s: float | None) -> str:
    """What failed, where, and what to check.

    >>> from pipeline.teachers import TeacherSettings, make_teacher
    >>> t = make_teacher("openai-compatible", TeacherSettings(model="m", base_url="http://127.0.0.1:9/v1"))
    >>> print(diagnosis(t, 20, Reply(ReplyStatus.CONNECTION_ERROR, detail="Connection refused"), 60.0))
    ... # doctest: +NORMALIZE_WHITESPACE
    no answer from the openai-compatible teacher at http://127.0.0.1:9/v1: the last 20 requests all
    failed, the last of them a probe after a 60 s pause (connection_error: Connection refused).
    Nothing answers there: is the server running, and is --base-url right? The pages not
    labelled are left for the next run: a rerun sends them again.
    """
    url = teacher.settings.base_url
    where = f" at {shown_url(url)}" if url else ""
    probe = f", the last of them a probe after a {pause_s:g} s pause" if pause_s is not None else ""
    status = last.status if last is not None else ReplyStatus.SERVER_ERROR
    said = f"{status.value}: {last.detail[:300]}" if last is not None and last.detail else status.value
    if not url and not teacher.is_cloud:   # an offline teacher: its own error says what to fix
        hint = ""
    elif status is ReplyStatus.CONNECTION_ERROR:
        hint = ("Nothing answers there: is the server running, and is --base-url right?" if url else
                "Check the network connection (a proxy, a firewall, DNS).")
    elif status is ReplyStatus.TIMEOUT:
        hint = "The server does not answer within --timeout: it is overloaded, or --timeout is too short."
    else:
        hint = ("The server fails every request: check its log." if url else
                "The provider fails every request (an outage?): check its status page.")
    return (f"no answer from the {teacher.name} teacher{where}: the last {failures} requests all failed{probe} "
            f"({said}). {hint + ' ' if hint else ''}The pages not labelled are left for the next run: "
            "a rerun sends them again.")
