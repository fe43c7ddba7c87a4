"""The concurrent label engine against the stub: a fault matrix, reruns, rate limits, budget, fatal stops."""

from __future__ import annotations

import gc
import json
import sqlite3
import threading
import time
from collections import defaultdict, deque
from pathlib import Path

import pytest

from pipeline.render.config import RenderConfig, RenderRunConfig
from pipeline.label.cost import load_prices
from pipeline.label.engine import LabelEngine
from pipeline.label.sources import PageSources
from pipeline.label.stage import LabelConfig, label_pages
from pipeline.render.stage import render_folder
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from pipeline.teachers import TeacherFatalError, TeacherSettings, make_teacher
from tests.conftest import make_pdf
from tests.support.provider_stub import Behaviour, ProviderStub, StubRequest
from tests.label.test_label import CONTENT, KEY, valid_answer

FAST = {"backoff_base_s": 0.01, "backoff_max_s": 0.2}


def render(tmp_path: Path, pages: int) -> RenderRunConfig:
    make_pdf(tmp_path / "in" / "book.pdf", pages=pages)
    cfg = RenderRunConfig(pdf_dir=tmp_path / "in", run_dir=tmp_path / "run", render=RenderConfig(longest_side=128))
    with RunStore(cfg.run_dir) as store:
        render_folder(cfg, store, progress=False)
    return cfg


def page_of(cfg: RenderRunConfig) -> dict[str, int]:
    """image sha256 -> page index: the stub tells pages apart by the image it receives."""
    import hashlib
    with RunStore(cfg.run_dir) as store:
        return {hashlib.sha256((cfg.run_dir / p.image_path).read_bytes()).hexdigest(): p.page_index
                for p in store.iter_pages()}


class PerPage:
    """A responder serving each page its own script, then valid answers (thread-safe)."""

    def __init__(self, cfg: RenderRunConfig, scripts: dict[int, list[Behaviour]]):
        import hashlib
        self.pages = page_of(cfg)
        self.queues = defaultdict(deque, {i: deque(b) for i, b in scripts.items()})
        self.sent = defaultdict(list)          # page -> requests it got
        self.lock = threading.Lock()
        self._sha = hashlib.sha256

    def page(self, request: StubRequest) -> int:
        return self.pages[self._sha(request.image_bytes).hexdigest()]

    def __call__(self, request: StubRequest) -> Behaviour:
        page = self.page(request)
        with self.lock:
            self.sent[page].append(request)
            queue = self.queues[page]
            return queue.popleft() if queue else valid_answer(request)


def label(cfg, teacher: str, url: str, timeout_s: float = 5.0, **kw):
    teacher_obj = make_teacher(teacher, TeacherSettings(base_url=url, timeout_s=timeout_s))
    try:
        with RunStore(cfg.run_dir) as store, PageSources(cfg, store) as sources:
            summary = label_pages(sources, LabelConfig(tasks=tuple(resolve_tasks(["content"])), **kw), store,
                                  teacher_obj, progress=False)
            labels = {l.page_index: l for l in store.iter_labels()}
    finally:
        teacher_obj.close()
    return summary, labels


def temperature(request: StubRequest) -> float:
    if request.provider == "gemini":
        return request.body["generationConfig"].get("temperature", 0.0)
    return request.body.get("temperature", 0.0)


# page -> (script, outcome after the first run); the 429 bursts carry Retry-After.
MATRIX = {
    0: ([], "ok"),
    1: ([Behaviour.status(429, retry_after=0.05)] * 2, "ok"),
    2: ([Behaviour.status(500), Behaviour.status(503)], "ok"),
    3: ([Behaviour.hang(3.0, then=CONTENT)], "ok"),                          # a timeout, then an answer
    4: ([Behaviour.malformed(), Behaviour.malformed("still not")], "ok"),     # repair fails, ladder fixes it
    5: ([Behaviour.truncated()], "truncated"),
    6: ([Behaviour.safety()], "safety_blocked"),
    7: ([Behaviour.status(429, retry_after=0.01)] * 5, "rate_limited"),      # a burst past max_attempts
    8: ([Behaviour.status(503)] * 3, "server_error"),
    9: ([Behaviour.ok({**CONTENT, "direction": "up"}), Behaviour.ok({"markdown": 1}),
        Behaviour.ok({"markdown": 2}), Behaviour.ok({"markdown": 3})], "invalid"),   # every rung fails
}


@pytest.mark.parametrize("teacher, env", [("gemini", "GEMINI_API_KEY"), ("openai", "OPENAI_API_KEY")])
def test_fault_matrix_every_page_ends_labelled_or_failed_with_its_reason(tmp_path, monkeypatch, teacher, env):
    monkeypatch.setenv(env, KEY)
    cfg = render(tmp_path, pages=len(MATRIX))
    responder = PerPage(cfg, {page: script for page, (script, _) in MATRIX.items()})
    with ProviderStub(responder) as stub:
        url = stub.url if teacher == "gemini" else stub.openai_url
        summary, labels = label(cfg, teacher, url, timeout_s=1.0, concurrency=4, max_attempts=3, **FAST)
        assert {page: labels[page].outcome for page in MATRIX} == {p: want for p, (_, want) in MATRIX.items()}
        assert summary.requests == len(stub.requests) == sum(l.attempts for l in labels.values())
        assert summary.retries == 2 + 2 + 1 + 2 + 2           # pages 1, 2, 3, 7, 8
        assert labels[4].warnings == ["temperature:0.3"] and labels[4].attempts == 3
        assert [temperature(r) for r in responder.sent[4]] == [0.0, 0.0, 0.3]
        assert labels[9].attempts == 4 and [temperature(r) for r in responder.sent[9]] == [0.0, 0.0, 0.3, 0.6]
        assert all(labels[p].label == CONTENT for p, (_, want) in MATRIX.items() if want == "ok")
        assert labels[5].raw_text and summary.to_dict()["labels"]["content"]["ok"] == 5

        # Rerun: only the transient failures go again (and finish); --retry-failed the others.
        summary, labels = label(cfg, teacher, url, concurrency=4, max_attempts=3, **FAST)
        assert labels[7].outcome == labels[8].outcome == "ok" and summary.up_to_date == 8
        summary, labels = label(cfg, teacher, url, concurrency=4, retry_failed=True, **FAST)
        assert all(l.outcome == "ok" for l in labels.values()) and summary.requests == 3   # pages 5, 6, 9
        before = len(stub.requests)
        summary, _ = label(cfg, teacher, url, concurrency=4, retry_failed=True)
        assert len(stub.requests) == before and summary.requests == 0 and summary.up_to_date == len(MATRIX)


def test_requests_really_run_concurrently_and_within_rpm(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cfg = render(tmp_path, pages=8)
    with ProviderStub(valid_answer, latency=0.4) as stub:
        started = time.perf_counter()
        summary, labels = label(cfg, "gemini", stub.url, concurrency=8)
        assert time.perf_counter() - started < 8 * 0.4 / 2 and len(labels) == 8
    with ProviderStub(valid_answer, rpm_limit=600) as stub:     # 10 per second, 429 past it
        cfg2 = render(tmp_path / "b", pages=10)
        started = time.perf_counter()
        summary, labels = label(cfg2, "gemini", stub.url, concurrency=8, rpm=600)
        elapsed = time.perf_counter() - started
        assert stub.rejected == 0 and len(labels) == 10 and 0.85 <= elapsed < 3.0


def test_rate_limited_without_rpm_backs_off_and_finishes(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    cfg = render(tmp_path, pages=12)
    with ProviderStub(valid_answer, rpm_limit=1200, burst=0.1) as stub:   # 20/s: we send faster, get 429s
        summary, labels = label(cfg, "openai", stub.openai_url, concurrency=8, max_attempts=10, **FAST)
        assert stub.rejected > 0 and summary.retries == stub.rejected
        assert all(l.outcome == "ok" for l in labels.values()) and len(labels) == 12


def test_max_cost_stops_within_one_request(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    prices = tmp_path / "prices.yaml"
    prices.write_text("models:\n  gemini-2.5-flash: {input: 1000, output: 1000, source: test, as_of: today}\n")
    cfg = render(tmp_path, pages=12)
    with ProviderStub(valid_answer) as stub:
        summary, labels = label(cfg, "gemini", stub.url, concurrency=1, prices=load_prices(prices))
        per_request = summary.cost_usd / 12                    # every request costs the same here
        budget = per_request * 5.5
        cfg2 = render(tmp_path / "b", pages=12)
        summary, labels = label(cfg2, "gemini", stub.url, concurrency=3, prices=load_prices(prices),
                                max_cost_usd=budget)
        assert summary.stopped == "budget" and summary.cost_usd <= budget + per_request
        assert 3 <= summary.requests <= 6 and len(labels) == summary.requests and summary.left == 12 - len(labels)
        summary, labels = label(cfg2, "gemini", stub.url, concurrency=3, prices=load_prices(prices))
        assert len(labels) == 12 and not summary.stopped       # the rest on the next run, nothing twice
        assert len(stub.requests) == 24


def test_fatal_error_stops_sending_and_keeps_answers_in_flight(tmp_path, monkeypatch):
    """Pages 0-3 answer, page 4 gets a 401; every later page is held at the stub until the engine has
    stopped, then answered. So the requests in flight when it stops are exactly those sent before
    it, whatever the machine's load: nothing after page 7 can have been sent (4 in flight at most)."""
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cfg = render(tmp_path, pages=20)
    stopped = threading.Event()
    real_fail = LabelEngine._fail

    def fail(engine, exc):
        real_fail(engine, exc)
        stopped.set()                                          # on the loop's thread: no request can follow

    monkeypatch.setattr(LabelEngine, "_fail", fail)
    pages = PerPage(cfg, {4: [Behaviour.status(401, message="API key not valid")]})
    held = []

    def responder(request: StubRequest) -> Behaviour:
        if pages.page(request) > 4:
            held.append(stopped.wait(timeout=120))             # a bound for a broken engine, never reached
        return pages(request)

    with ProviderStub(responder) as stub:
        with pytest.raises(TeacherFatalError, match="GEMINI_API_KEY"):
            label(cfg, "gemini", stub.url, concurrency=4, max_attempts=3, **FAST)
        sent = sorted(pages.page(r) for r in stub.requests)
    assert all(held) and sent[:5] == [0, 1, 2, 3, 4] and sent[-1] <= 7     # pages 0-4, at most 3 in flight
    with RunStore(cfg.run_dir) as store:
        stored = {l.page_index: l.outcome for l in store.iter_labels()}
    assert stored == {p: "ok" for p in sent if p != 4}         # everything answered is kept; page 4: nothing


def test_store_failure_stops_sending_and_is_raised_after_the_requests_in_flight(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cfg = render(tmp_path, pages=20)
    stored = []
    real_put = RunStore.put_label

    def put_label(store, record):
        if len(stored) == 3:
            raise sqlite3.OperationalError("database or disk is full")
        stored.append(record)
        real_put(store, record)

    monkeypatch.setattr(RunStore, "put_label", put_label)
    with ProviderStub(valid_answer, latency=0.2) as stub:
        with pytest.raises(sqlite3.OperationalError, match="disk is full"):
            label(cfg, "gemini", stub.url, concurrency=4)
        assert len(stub.requests) <= 4 + 4                     # 3 stored, the failing one, at most 4 in flight
    monkeypatch.undo()
    with RunStore(cfg.run_dir) as store:
        assert len(list(store.iter_labels())) == 3


def test_heap_is_unfrozen_after_a_run_whatever_ends_it(tmp_path, monkeypatch):
    """The engine keeps the start-up heap out of full collections during a run, and only then."""
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cfg = render(tmp_path, pages=3)
    responder = PerPage(cfg, {1: [Behaviour.status(401)]})
    with ProviderStub(responder) as stub:
        with pytest.raises(TeacherFatalError):
            label(cfg, "gemini", stub.url, concurrency=1)
        assert gc.get_freeze_count() == 0
        label(cfg, "gemini", stub.url, concurrency=2)
        assert gc.get_freeze_count() == 0
        gc.freeze()                                            # the caller's own freeze is left alone
        try:
            label(cfg, "gemini", stub.url, concurrency=2)
            assert gc.get_freeze_count() > 0
        finally:
            gc.unfreeze()


def test_dry_run_estimates_and_sends_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    cfg = render(tmp_path, pages=3)
    with ProviderStub(valid_answer) as stub:
        summary, labels = label(cfg, "openai", stub.openai_url, dry_run=True)
        assert not stub.requests and not labels
    estimate = summary.estimate
    assert estimate["pages"] == 3 and estimate["requests"] == 3
    assert estimate["image_tokens"] == 3 * (170 + 85)          # a 91x128 page: one 512-px tile
    assert estimate["cost_usd"] > 0 and estimate["prompt_tokens"] > 3 * 100
    assert json.dumps(summary.to_dict())
