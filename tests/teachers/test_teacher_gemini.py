"""The Gemini teacher against the local provider stub, through the real google-genai client."""

from __future__ import annotations

import io
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from pipeline.schemas import wire_schema
from pipeline.tasks import resolve_tasks
from pipeline.teachers import (PageInput, ReplyStatus, TeacherConfigError, TeacherFatalError, TeacherSettings,
                               make_teacher)
from tests.support.provider_stub import Behaviour, ProviderStub, scripted

KEY = "test-key-123"
TASKS = {t.name: t for t in resolve_tasks(["content", "metadata"])}
CONTENT = TASKS["content"]


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


PAGE = PageInput(doc_id="doc", page_index=0, image=_png(), mime_type="image/png")


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_GENAI_USE_VERTEXAI", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)


def ask(*behaviours: Behaviour, timeout_s: float = 10.0, task=CONTENT, **ask_kwargs):
    """One ask() against a stub serving ``behaviours``; returns (reply, recorded requests)."""
    with ProviderStub(scripted(*behaviours)) as stub:
        teacher = make_teacher("gemini", TeacherSettings(base_url=stub.url, timeout_s=timeout_s))
        try:
            reply = teacher.ask(PAGE, task, "Read this page. Answer in JSON.", **ask_kwargs)
        finally:
            teacher.close()
        assert KEY not in repr(reply)
        return reply, stub.requests


@pytest.mark.parametrize("task_name", sorted(TASKS))
def test_ok_sends_image_schema_and_model(task_name):
    task = TASKS[task_name]
    answer = {"languages": ["ar", "en"], "note": "نص عربي"}
    reply, requests = ask(Behaviour.ok(answer), task=task)
    assert reply.status is ReplyStatus.COMPLETE
    assert json.loads(reply.text) == answer and "نص عربي" in reply.text
    assert reply.finish_reason == "STOP"
    assert reply.tokens_in > 258 and reply.tokens_out > 0
    [req] = requests
    assert req.provider == "gemini" and req.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert req.headers["x-goog-api-key"] == KEY
    assert req.image_bytes == PAGE.image
    assert req.prompt_text == "Read this page. Answer in JSON."
    # responseJsonSchema: the model's structure (the prompt quotes the descriptions), without titles.
    assert req.schema == wire_schema(task.model.model_json_schema(), descriptions=False)
    config = req.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["temperature"] == 0.0 and config["maxOutputTokens"] == 8192


def test_temperature_argument_overrides_settings():
    _, [req] = ask(Behaviour.ok({}), temperature=0.7)
    assert req.body["generationConfig"]["temperature"] == 0.7


def test_config_is_shared_across_calls_and_never_changed_by_the_sdk():
    """The request config is built once per (schema, temperature): every request still says it all."""
    asks = [(CONTENT, None), (TASKS["metadata"], None), (CONTENT, 0.3), (CONTENT, None), (TASKS["metadata"], 0.3)]
    with ProviderStub() as stub:
        teacher = make_teacher("gemini", TeacherSettings(base_url=stub.url))
        try:
            for task, temperature in asks * 2:
                assert teacher.ask(PAGE, task, "p", temperature).status is ReplyStatus.COMPLETE
        finally:
            teacher.close()
        requests = stub.requests
    assert len(requests) == 2 * len(asks)
    for (task, temperature), req in zip(asks * 2, requests):
        assert req.schema == wire_schema(task.model.model_json_schema(), descriptions=False)
        assert req.body["generationConfig"]["temperature"] == (temperature or 0.0)


def test_connections_are_reused_past_twenty_in_flight(monkeypatch):
    """httpx's default pool keeps 20 idle connections: at 24 in flight most requests opened a new one."""
    connects = []
    real_connect = socket.socket.connect

    def counting_connect(sock, address):
        connects.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", counting_connect)
    in_flight = 24
    with ProviderStub(latency=0.1) as stub:
        teacher = make_teacher("gemini", TeacherSettings(base_url=stub.url))
        try:
            with ThreadPoolExecutor(in_flight) as pool:
                for _ in range(3):
                    replies = list(pool.map(lambda _: teacher.ask(PAGE, CONTENT, "p"), range(in_flight)))
                    assert all(r.status is ReplyStatus.COMPLETE for r in replies)
        finally:
            teacher.close()
    assert len(connects) <= in_flight


def test_google_api_key_is_accepted(monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.setenv("GOOGLE_API_KEY", "other-key-456")
    with ProviderStub() as stub:
        teacher = make_teacher("gemini", TeacherSettings(base_url=stub.url, model="gemini-2.5-pro"))
        assert teacher.ask(PAGE, CONTENT, "p").status is ReplyStatus.COMPLETE
        teacher.close()
        [req] = stub.requests
        assert req.headers["x-goog-api-key"] == "other-key-456" and req.model == "gemini-2.5-pro"


def test_malformed_json_is_complete_with_raw_text():
    reply, _ = ask(Behaviour.malformed('{"languages": ["en"], oops'))
    assert reply.status is ReplyStatus.COMPLETE and reply.text == '{"languages": ["en"], oops'


def test_truncated_keeps_partial_text():
    reply, _ = ask(Behaviour.truncated('{"markdown": "# Ti'))
    assert reply.status is ReplyStatus.TRUNCATED
    assert reply.text == '{"markdown": "# Ti' and reply.finish_reason == "MAX_TOKENS"


@pytest.mark.parametrize("behaviour, status, finish", [
    (Behaviour.safety(), ReplyStatus.SAFETY_BLOCKED, "SAFETY"),
    (Behaviour.recitation(), ReplyStatus.RECITATION_BLOCKED, "RECITATION"),
])
def test_blocked_answers(behaviour, status, finish):
    reply, _ = ask(behaviour)
    assert reply.status is status and reply.finish_reason == finish and reply.text == ""
    assert reply.tokens_in > 0


def test_prompt_blocked():
    reply, _ = ask(Behaviour.prompt_blocked("PROHIBITED_CONTENT"))
    assert reply.status is ReplyStatus.PROMPT_BLOCKED
    assert reply.detail == "PROHIBITED_CONTENT" and reply.tokens_in > 0


@pytest.mark.parametrize("behaviour, expected", [
    (Behaviour.status(429, retry_after=7), 7.0),               # Retry-After header
    (Behaviour.status(429, retry_delay="12.5s"), 12.5),        # google.rpc.RetryInfo in the body
    (Behaviour.status(429), None),
])
def test_rate_limited_once_with_retry_after(behaviour, expected):
    reply, requests = ask(behaviour)
    assert reply.status is ReplyStatus.RATE_LIMITED and reply.retry_after_s == expected
    assert len(requests) == 1                                   # the SDK did not retry


@pytest.mark.parametrize("code", [500, 503])
def test_server_errors_once(code):
    reply, requests = ask(Behaviour.status(code))
    assert reply.status is ReplyStatus.SERVER_ERROR and str(code) in reply.detail
    assert len(requests) == 1


def test_timeout():
    start = time.monotonic()
    reply, requests = ask(Behaviour.hang(3), timeout_s=0.5)
    assert reply.status is ReplyStatus.TIMEOUT
    assert time.monotonic() - start < 3 and len(requests) == 1


@pytest.mark.parametrize("code, message", [
    (401, "Request is missing required authentication credential."),
    (403, "Method doesn't allow unregistered callers."),
    (400, "API key not valid. Please pass a valid API key."),  # what Gemini really says for a bad key
])
def test_rejected_key_is_fatal_and_names_the_variable(code, message):
    with pytest.raises(TeacherFatalError) as info:
        ask(Behaviour.status(code, message=message))
    text = str(info.value)
    assert "GEMINI_API_KEY" in text and f"({code}" in text and KEY not in text


def test_unknown_model_is_fatal():
    with pytest.raises(TeacherFatalError, match="--model") as info:
        ask(Behaviour.status(404, message="models/gemini-9 is not found"))
    assert KEY not in str(info.value)


def test_missing_key_fails_at_construction(monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(TeacherConfigError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        make_teacher("gemini", TeacherSettings())


def test_connection_refused():
    with socket.socket() as sock:           # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    teacher = make_teacher("gemini", TeacherSettings(base_url=f"http://127.0.0.1:{port}", timeout_s=5))
    reply = teacher.ask(PAGE, CONTENT, "p")
    teacher.close()
    assert reply.status is ReplyStatus.CONNECTION_ERROR and KEY not in repr(reply)


def test_teacher_facts():
    with ProviderStub() as stub:
        teacher = make_teacher("gemini", TeacherSettings(base_url=stub.url, temperature=0.2))
        assert teacher.is_cloud and teacher.model == "gemini-2.5-flash"
        assert teacher.generation_params() == {"temperature": 0.2, "max_output_tokens": 8192}
        teacher.close()


def test_static_prompt_goes_first_and_cached_tokens_are_read():
    """Two pages under the task's own prompt: the second finds the static prefix cached (cachedContentTokenCount)."""
    other = PageInput(doc_id="doc", page_index=1, image=_png()[:-1] + b"\x01", mime_type="image/png")
    anchored = CONTENT.teacher_prompt("Invoice 42 total 12.50")      # Gemini quotes the schema (quotes_schema)
    with ProviderStub() as stub:
        teacher = make_teacher("gemini", TeacherSettings(base_url=stub.url, timeout_s=10))
        try:
            first, second = (teacher.ask(page, CONTENT, anchored) for page in (PAGE, other))
        finally:
            teacher.close()
    assert first.tokens_cached == 0 and second.tokens_cached >= 1024
    assert second.tokens_cached == stub.requests[1].usage["cachedContentTokenCount"] < second.tokens_in
    for request in stub.requests:
        parts = request.body["contents"][0]["parts"]
        assert parts[0]["text"] == CONTENT.teacher_prompt(None) and "inlineData" in parts[1]
        assert parts[2]["text"].startswith("## Text layer of this page") and "Invoice 42" in parts[2]["text"]
