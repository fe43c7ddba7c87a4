"""The schema text is quoted in the prompt only where the request does not carry the schema itself.

Real google-genai and openai clients against the provider stub: with ``--json-mode schema`` (the default)
the response schema travels in the request, Field descriptions included, and the prompt does not quote
it again; with ``--json-mode object`` the prompt quotes it, since nothing else tells the model.
"""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from pipeline.schemas import schema_text
from pipeline.tasks import SCHEMA_ENFORCED, resolve_tasks
from pipeline.teachers import PageInput, TeacherSettings, make_teacher
from tests.support.provider_stub import Behaviour, ProviderStub, scripted

KEY = "test-key-123"
TASKS = {t.name: t for t in resolve_tasks(["content", "metadata"])}
PROVIDERS = [("gemini", "GEMINI_API_KEY"), ("openai", "OPENAI_API_KEY")]


def _page() -> PageInput:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (30, 200, 30)).save(buffer, format="PNG")
    return PageInput(doc_id="doc", page_index=0, image=buffer.getvalue(), mime_type="image/png")


def send(monkeypatch, teacher_name: str, env: str, task, **settings):
    """One page asked the way the label stage asks it; returns (teacher, the prompt, the request)."""
    monkeypatch.setenv(env, KEY)
    with ProviderStub(scripted(Behaviour.ok({}))) as stub:
        url = stub.url if teacher_name == "gemini" else stub.openai_url
        teacher = make_teacher(teacher_name, TeacherSettings(base_url=url, **settings))
        try:
            prompt = teacher.prompt_for(task)
            teacher.ask(_page(), task, prompt)
        finally:
            teacher.close()
        [request] = stub.requests
    return teacher, prompt, request


def sent_text(teacher_name: str, request) -> str:
    if teacher_name == "gemini":
        return "".join(p.get("text", "") for p in request.body["contents"][0]["parts"])
    return "".join(p.get("text", "") for p in request.body["messages"][0]["content"] if p["type"] == "text")


def descriptions(node) -> list[str]:
    """Every description string in a JSON Schema, nested definitions included."""
    if isinstance(node, dict):
        found = [node["description"]] if isinstance(node.get("description"), str) else []
        return found + [d for value in node.values() for d in descriptions(value)]
    if isinstance(node, list):
        return [d for value in node for d in descriptions(value)]
    return []


@pytest.mark.parametrize("teacher_name, env", PROVIDERS)
@pytest.mark.parametrize("task_name", sorted(TASKS))
def test_enforced_schema_travels_in_the_request_not_in_the_prompt(monkeypatch, teacher_name, env, task_name):
    task = TASKS[task_name]
    teacher, prompt, request = send(monkeypatch, teacher_name, env, task)
    assert teacher.enforces_schema
    text = sent_text(teacher_name, request)
    assert schema_text(task.model) not in text and '"$defs"' not in text and SCHEMA_ENFORCED in text
    assert text == prompt
    # The request's response schema has every Field description of the model, nested ones too.
    wanted = descriptions(task.model.model_json_schema())
    assert len(wanted) >= 10 and descriptions(task.model.model_json_schema()["$defs"])   # nested models
    assert set(wanted) <= set(descriptions(request.schema))
    if teacher_name == "gemini":
        assert request.body["generationConfig"]["responseMimeType"] == "application/json"
    else:
        assert request.body["response_format"]["json_schema"]["strict"] is True


@pytest.mark.parametrize("teacher_name, env", PROVIDERS)
def test_json_object_mode_quotes_the_schema_in_the_prompt(monkeypatch, teacher_name, env):
    task = TASKS["metadata"]
    teacher, prompt, request = send(monkeypatch, teacher_name, env, task, json_mode="object")
    assert not teacher.enforces_schema and request.schema is None
    text = sent_text(teacher_name, request)
    assert schema_text(task.model) in text and SCHEMA_ENFORCED not in text and text == prompt
    if teacher_name == "gemini":
        assert request.body["generationConfig"] == {**request.body["generationConfig"],
                                                    "responseMimeType": "application/json"}
        assert "responseJsonSchema" not in request.body["generationConfig"]
    else:
        assert request.body["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize("teacher_name, env", PROVIDERS)
def test_json_mode_none_sends_no_format_and_quotes_the_schema(monkeypatch, teacher_name, env):
    task = TASKS["content"]
    _, prompt, request = send(monkeypatch, teacher_name, env, task, json_mode="none")
    assert schema_text(task.model) in sent_text(teacher_name, request) and request.schema is None
    config = request.body.get("generationConfig", {})
    assert "responseMimeType" not in config and "response_format" not in request.body


@pytest.mark.parametrize("teacher_name, env", PROVIDERS)
def test_request_keys_of_the_default_mode_are_unchanged(monkeypatch, teacher_name, env):
    """Labels stored before the schema left the prompt keep their keys: the default's params are as they
    were; asking without the schema is a different request and says so in its params."""
    monkeypatch.setenv(env, KEY)
    default = make_teacher(teacher_name, TeacherSettings())
    loose = make_teacher(teacher_name, TeacherSettings(json_mode="object"))
    try:
        assert default.generation_params() in ({"temperature": 0.0, "max_output_tokens": 8192},
                                               {"temperature": 0.0, "max_output_tokens": 8192, "image_detail": "high"})
        assert loose.generation_params() == {**default.generation_params(), "json_mode": "object"}
    finally:
        default.close()
        loose.close()


def test_a_teacher_without_structured_output_gets_the_schema_text(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cls = type(make_teacher("gemini", TeacherSettings()))
    plain = type("PlainGemini", (cls,), {"structured_output": False})
    teacher = plain(TeacherSettings())
    try:
        assert not teacher.enforces_schema
        assert schema_text(TASKS["content"].model) in teacher.prompt_for(TASKS["content"])
    finally:
        teacher.close()
