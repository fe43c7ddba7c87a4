"""The circuit breaker: a teacher that answers nothing stops the run after K failures and a probe."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import pytest

from pipeline.distill_report import format_label_summary
from pipeline.errors import TeacherUnavailable
from pipeline.label.sources import PageSources
from pipeline.label.stage import LabelConfig, label_pages
from pipeline.label.summary import LabelSummary
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from pipeline.teachers import TeacherFatalError, TeacherSettings, make_teacher
from tests.conftest import REPO_ROOT, make_pdf
from tests.label.test_engine import FAST, label, render
from tests.label.test_label import KEY, valid_answer
from tests.support.provider_stub import Behaviour, ProviderStub, StubRequest


def closed_port() -> int:
    """A local port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sequence:
    """Answers by arrival order: ``fails(n)`` says whether request n (0-based) gets ``failure``."""

    def __init__(self, fails, failure: Behaviour = Behaviour.status(503)):
        self.fails, self.failure = fails, failure
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self, request: StubRequest) -> Behaviour:
        with self.lock:
            n, self.count = self.count, self.count + 1
        return self.failure if self.fails(n) else valid_answer(request)


def test_a_teacher_failing_every_request_stops_after_k_failures_and_a_probe(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cfg = render(tmp_path, pages=40)
    with ProviderStub(lambda request: Behaviour.status(503)) as stub:
        with pytest.raises(TeacherUnavailable) as stop:
            label(cfg, "gemini", stub.url, concurrency=4, max_attempts=5, **FAST)
        # 20 failures in a row, then 3 in flight at most and the probe: not 40 pages x 5 attempts.
        assert 21 <= len(stub.requests) <= 20 + 4
    message = str(stop.value)
    assert isinstance(stop.value, TeacherFatalError) and stub.url in message and "server_error: 503" in message
    assert "a rerun sends them again" in message
    with ProviderStub(valid_answer) as healthy:               # the endpoint is back: the rerun does the rest
        summary, labels = label(cfg, "gemini", healthy.url, concurrency=4, max_attempts=5, **FAST)
    assert len(labels) == 40 and all(l.outcome == "ok" for l in labels.values()) and not summary.stopped


def test_connection_refused_stops_after_k_requests_naming_the_base_url(tmp_path):
    cfg = render(tmp_path, pages=30)
    url = f"http://127.0.0.1:{closed_port()}/v1"
    teacher = make_teacher("openai-compatible", TeacherSettings(model="m", base_url=url, timeout_s=5))
    calls = []
    ask = teacher.ask
    teacher.ask = lambda *args, **kw: calls.append(1) or ask(*args, **kw)   # counts what reaches the client
    with RunStore(cfg.run_dir) as store, PageSources(cfg, store) as sources, pytest.raises(TeacherUnavailable, match="is --base-url right"):
        label_pages(sources, LabelConfig(tasks=tuple(resolve_tasks(["content"])), concurrency=4, max_attempts=5,
                                     breaker_failures=6, **FAST), store, teacher, progress=False)
    teacher.close()
    assert 7 <= len(calls) <= 6 + 4
    with RunStore(cfg.run_dir) as store:                      # what failed is transient: a rerun sends it again
        assert {l.outcome for l in store.iter_labels()} <= {"connection_error"}


def test_cli_exits_3_with_the_diagnosis_when_nothing_answers(tmp_path):
    make_pdf(tmp_path / "in" / "a.pdf", pages=3)
    url = f"http://127.0.0.1:{closed_port()}/v1"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    result = subprocess.run([sys.executable, "-m", "pipeline.distill", str(tmp_path / "in"), "--out",
                             str(tmp_path / "run"), "--teacher", "openai-compatible", "--model", "m", "--base-url",
                             url, "--max-attempts", "1", "--longest-side", "128", "--no-progress"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    assert url in result.stderr and "connection_error" in result.stderr and "--base-url" in result.stderr
    assert "Traceback" not in result.stderr


def test_failures_between_answers_do_not_trip_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cfg = render(tmp_path, pages=6)
    responder = Sequence(lambda n: n % 3 != 2)                # fail, fail, answer, fail, fail, answer ...
    with ProviderStub(responder) as stub:
        summary, labels = label(cfg, "gemini", stub.url, concurrency=1, max_attempts=3, breaker_failures=3, **FAST)
        assert len(stub.requests) == 18 and summary.retries == 12
    assert all(l.outcome == "ok" for l in labels.values()) and not summary.stopped


def test_an_endpoint_back_by_the_probe_lets_the_run_go_on(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cfg = render(tmp_path, pages=5)
    with ProviderStub(Sequence(lambda n: n < 4)) as stub:      # down for 4 requests: the 5th is the probe
        summary, labels = label(cfg, "gemini", stub.url, concurrency=1, max_attempts=10, breaker_failures=4, **FAST)
        assert len(stub.requests) == 5 + 4
    assert all(l.outcome == "ok" for l in labels.values()) and not summary.stopped


def test_rate_limits_are_a_live_provider_and_do_not_trip_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cfg = render(tmp_path, pages=3)
    with ProviderStub(Sequence(lambda n: n < 8, Behaviour.status(429, retry_after=0.01))) as stub:
        summary, labels = label(cfg, "gemini", stub.url, concurrency=1, max_attempts=10, breaker_failures=3, **FAST)
        assert len(stub.requests) == 3 + 8
    assert all(l.outcome == "ok" for l in labels.values()) and not summary.stopped


def test_the_summary_says_a_rerun_sends_transient_failures_again():
    summary = LabelSummary(teacher="gemini", model="m")
    summary.outcomes.update({"content:ok": 5, "content:server_error": 2, "metadata:timeout": 1,
                             "metadata:invalid": 1})
    assert "3 transient failure(s) (server_error 2, timeout 1): a rerun sends them again" in \
        format_label_summary(summary)
