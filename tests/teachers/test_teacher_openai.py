"""The OpenAI and OpenAI-compatible teachers against the local provider stub, through the real openai client."""

from __future__ import annotations

import base64
import io
import json
import socket
import time

import pytest
from openai.lib._pydantic import to_strict_json_schema
from PIL import Image

from pipeline.schemas import wire_schema
from pipeline.tasks import resolve_tasks
from pipeline.teachers import (PageInput, ReplyStatus, TeacherConfigError, TeacherFatalError, TeacherSettings,
                               make_teacher)
from tests.support.provider_stub import Behaviour, ProviderStub, scripted

KEY = "test-key-123"
TASKS = {t.name: t for t in resolve_tasks(["content", "metadata"])}
CONTENT = TASKS["content"]
PROMPT = "Read this page. Answer in JSON."


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (30, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


PAGE = PageInput(doc_id="doc", page_index=0, image=_png(), mime_type="image/png")


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def ask(*behaviours: Behaviour, teacher: str = "openai", task=CONTENT, timeout_s: float = 10.0,
        base_url: str | None = None, **settings):
    """One ask() against a stub serving ``behaviours``; returns (reply, recorded requests)."""
    with ProviderStub(scripted(*behaviours)) as stub:
        t = make_teacher(teacher, TeacherSettings(base_url=base_url or stub.openai_url, timeout_s=timeout_s,
                                                  **settings))
        try:
            reply = t.ask(PAGE, task, PROMPT)
        finally:
            t.close()
        assert KEY not in repr(reply)
        return reply, stub.requests


def compatible(*behaviours: Behaviour, **settings):
    return ask(*behaviours, teacher="openai-compatible", model=settings.pop("model", "qwen2.5-vl-7b"), **settings)


@pytest.mark.parametrize("task_name", sorted(TASKS))
def test_ok_sends_image_schema_and_model(task_name):
    task = TASKS[task_name]
    answer = {"languages": ["ar"], "note": "نص عربي"}
    reply, [req] = ask(Behaviour.ok(answer), task=task)
    assert reply.status is ReplyStatus.COMPLETE and reply.finish_reason == "stop"
    assert json.loads(reply.text) == answer
    assert reply.tokens_in > 0 and reply.tokens_out > 0
    assert req.provider == "openai" and req.path == "/v1/chat/completions"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.body["model"] == "gpt-4o-2024-08-06"
    assert req.body["max_completion_tokens"] == 8192 and req.body["temperature"] == 0.0
    assert req.image_bytes == PAGE.image and req.prompt_text == PROMPT
    [content] = [m["content"] for m in req.body["messages"]]
    # A prompt that is not the task's own is sent whole before the image (the static part goes first).
    assert [p["type"] for p in content] == ["text", "image_url"]
    assert content[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert content[1]["image_url"]["detail"] == "high"
    # Structured outputs: the SDK's strict form of the Pydantic model's schema, without titles.
    fmt = req.body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert req.schema == wire_schema(to_strict_json_schema(task.model))
    assert set(req.schema["properties"]) == set(task.model.model_fields)
    assert set(req.schema["required"]) == set(task.model.model_fields)


def test_image_detail_and_model_flags():
    _, [req] = ask(Behaviour.ok({}), model="gpt-4.1-mini", image_detail="low", max_output_tokens=100)
    assert req.body["model"] == "gpt-4.1-mini" and req.body["max_completion_tokens"] == 100
    assert req.body["messages"][0]["content"][1]["image_url"]["detail"] == "low"


def test_malformed_json_is_complete_with_raw_text():
    reply, _ = ask(Behaviour.malformed('{"languages": ["en"], oops'))
    assert reply.status is ReplyStatus.COMPLETE and reply.text == '{"languages": ["en"], oops'


def test_schema_invalid_json_is_complete_too():
    reply, _ = ask(Behaviour.ok({"languages": "not a list", "direction": 7}))
    assert reply.status is ReplyStatus.COMPLETE and json.loads(reply.text)["direction"] == 7


def test_truncated_keeps_partial_text():
    reply, _ = ask(Behaviour.truncated('{"markdown": "# Ti'))
    assert reply.status is ReplyStatus.TRUNCATED
    assert reply.text == '{"markdown": "# Ti' and reply.finish_reason == "length"


def test_content_filter():
    reply, _ = ask(Behaviour.safety())
    assert reply.status is ReplyStatus.SAFETY_BLOCKED and reply.finish_reason == "content_filter"


def test_refusal():
    reply, _ = ask(Behaviour.refusal("I can't read this document."))
    assert reply.status is ReplyStatus.REFUSED and reply.detail == "I can't read this document."


@pytest.mark.parametrize("retry_after, expected", [(7, 7.0), ("1.5", 1.5), (None, None)])
def test_rate_limited_once_with_retry_after(retry_after, expected):
    reply, requests = ask(Behaviour.status(429, retry_after=retry_after))
    assert reply.status is ReplyStatus.RATE_LIMITED and reply.retry_after_s == expected
    assert len(requests) == 1                                   # max_retries=0: the SDK did not retry


@pytest.mark.parametrize("code", [500, 503])
def test_server_errors_once(code):
    reply, requests = ask(Behaviour.status(code, message="upstream overloaded"))
    assert reply.status is ReplyStatus.SERVER_ERROR and "upstream overloaded" in reply.detail
    assert len(requests) == 1


def test_timeout():
    start = time.monotonic()
    reply, requests = ask(Behaviour.hang(3), timeout_s=0.5)
    assert reply.status is ReplyStatus.TIMEOUT
    assert time.monotonic() - start < 3 and len(requests) == 1


@pytest.mark.parametrize("code", [401, 403])
def test_rejected_key_is_fatal_and_names_the_variable(code):
    with pytest.raises(TeacherFatalError, match="OPENAI_API_KEY") as info:
        ask(Behaviour.status(code, message=f"Incorrect API key provided: {KEY[:4]}****"))
    assert KEY not in str(info.value)


@pytest.mark.parametrize("code, words", [(400, "rejected the request"), (404, "--model")])
def test_bad_request_and_unknown_model_are_fatal(code, words):
    with pytest.raises(TeacherFatalError, match=words):
        ask(Behaviour.status(code, message="The model `gpt-9` does not exist"))


def test_missing_key_fails_at_construction(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(TeacherConfigError, match="OPENAI_API_KEY"):
        make_teacher("openai", TeacherSettings())


def _closed_port_url() -> str:
    with socket.socket() as sock:           # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


@pytest.mark.parametrize("teacher", ["openai", "openai-compatible"])
def test_connection_refused(teacher):
    t = make_teacher(teacher, TeacherSettings(base_url=_closed_port_url(), model="m", timeout_s=5))
    reply = t.ask(PAGE, CONTENT, PROMPT)
    t.close()
    assert reply.status is ReplyStatus.CONNECTION_ERROR and KEY not in repr(reply)


def test_generation_params():
    t = make_teacher("openai", TeacherSettings(image_detail="low"))
    assert t.is_cloud
    assert t.generation_params() == {"temperature": 0.0, "max_output_tokens": 8192, "image_detail": "low"}
    t.close()


# --- openai-compatible -------------------------------------------------------------------------


@pytest.mark.parametrize("settings, words", [
    ({"base_url": "http://localhost:8000/v1"}, "needs --model"),
    ({"model": "qwen"}, "needs --base-url, e.g. http://localhost:8000/v1"),
    ({"model": "qwen", "base_url": "http://localhost:8000/v1", "json_mode": "grammar"}, "json-mode"),
])
def test_compatible_config_errors(settings, words):
    with pytest.raises(TeacherConfigError, match=words):
        make_teacher("openai-compatible", TeacherSettings(**settings))


def test_compatible_json_schema_mode():
    reply, [req] = compatible(Behaviour.ok({"languages": ["en"]}))
    assert reply.status is ReplyStatus.COMPLETE and reply.tokens_in > 0
    assert req.body["model"] == "qwen2.5-vl-7b" and req.body["max_tokens"] == 8192
    assert req.body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "content", "schema": wire_schema(CONTENT.model.model_json_schema()), "strict": False}}
    assert req.image_bytes == PAGE.image


def test_compatible_json_object_and_none_modes():
    _, [req] = compatible(Behaviour.ok({}), json_mode="object")
    assert req.body["response_format"] == {"type": "json_object"} and req.schema is None
    _, [req] = compatible(Behaviour.ok({}), json_mode="none")
    assert "response_format" not in req.body


@pytest.mark.parametrize("behaviour, status", [
    (Behaviour.malformed("not json at all"), ReplyStatus.COMPLETE),
    (Behaviour.truncated('{"a": '), ReplyStatus.TRUNCATED),
    (Behaviour.safety(), ReplyStatus.SAFETY_BLOCKED),
    (Behaviour.refusal("no"), ReplyStatus.REFUSED),
    (Behaviour.status(429, retry_after=2), ReplyStatus.RATE_LIMITED),
    (Behaviour.status(502), ReplyStatus.SERVER_ERROR),
])
def test_compatible_reply_mapping(behaviour, status):
    reply, requests = compatible(behaviour)
    assert reply.status is status and len(requests) == 1


def test_compatible_works_without_a_key_and_never_sends_the_openai_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)   # a real OpenAI key must not reach a self-hosted server
    monkeypatch.delenv("OPENAI_COMPATIBLE_API_KEY", raising=False)
    reply, [req] = compatible(Behaviour.ok({}))
    assert reply.status is ReplyStatus.COMPLETE
    assert req.headers["authorization"] == "Bearer EMPTY"
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", "local-key")
    _, [req] = compatible(Behaviour.ok({}))
    assert req.headers["authorization"] == "Bearer local-key"


def test_compatible_rejections_name_the_server():
    with pytest.raises(TeacherFatalError, match="OPENAI_COMPATIBLE_API_KEY"):
        compatible(Behaviour.status(401))
    with pytest.raises(TeacherFatalError, match="--base-url"):
        compatible(Behaviour.status(404, message="The model `qwen` does not exist."))


def test_compatible_facts():
    t = make_teacher("openai-compatible", TeacherSettings(model="m", base_url="http://localhost:8000/v1",
                                                          json_mode="object"))
    assert not t.is_cloud and t.model == "m"
    assert t.generation_params() == {"temperature": 0.0, "max_output_tokens": 8192, "image_detail": "high",
                                     "json_mode": "object"}
    t.close()


def test_data_url_is_standard_base64():
    _, [req] = ask(Behaviour.ok({}))
    url = req.body["messages"][0]["content"][1]["image_url"]["url"]
    assert base64.b64decode(url.split(",", 1)[1], validate=True) == PAGE.image


def test_static_prompt_goes_first_and_cached_tokens_are_read():
    """Two pages under the task's own prompt: the second finds the static prefix cached (cached_tokens)."""
    other = PageInput(doc_id="doc", page_index=1, image=_png()[:-1] + b"\x01", mime_type="image/png")
    with ProviderStub() as stub:
        teacher = make_teacher("openai", TeacherSettings(base_url=stub.openai_url, timeout_s=10))
        try:
            first, second = (teacher.ask(page, CONTENT, CONTENT.teacher_prompt(None, quote_schema=False)) for page in (PAGE, other))
        finally:
            teacher.close()
    assert first.tokens_cached == 0 and second.tokens_cached >= 1024 and second.tokens_cached % 128 == 0
    assert second.tokens_cached == stub.requests[1].usage["prompt_tokens_details"]["cached_tokens"]
    for request in stub.requests:
        content = request.body["messages"][0]["content"]
        assert [p["type"] for p in content] == ["text", "image_url"]
        assert content[0]["text"] == CONTENT.teacher_prompt(None, quote_schema=False)
