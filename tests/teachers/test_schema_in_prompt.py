"""Where the schema travels: every Field description sent once, where the provider's cache can serve it.

Real google-genai and openai clients against the provider stub, ``--json-mode schema`` (the default):
OpenAI caches the response schema with the prompt, so the request carries the whole schema and the
prompt does not quote it; Gemini's cache is not documented to serve the response schema, so the prompt
(served from the cache) quotes the schema and the response schema holds only its structure. With
``--json-mode object`` the prompt quotes it, since nothing else tells the model. No titles are sent.
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


def titles(node) -> list[str]:
    """Every ``title`` keyword in a JSON Schema (a property called "title" is a name, not a keyword)."""
    if isinstance(node, dict):
        found = [node["title"]] if isinstance(node.get("title"), str) else []
        return found + [t for key, value in node.items() if key not in ("properties", "$defs")
                        for t in titles(value)] + [t for key in ("properties", "$defs")
                                                   for value in node.get(key, {}).values() for t in titles(value)]
    if isinstance(node, list):
        return [t for value in node for t in titles(value)]
    return []


@pytest.mark.parametrize("task_name", sorted(TASKS))
def test_openai_request_carries_the_whole_schema_and_the_prompt_does_not_quote_it(monkeypatch, task_name):
    task = TASKS[task_name]
    teacher, prompt, request = send(monkeypatch, "openai", "OPENAI_API_KEY", task)
    assert teacher.enforces_schema and teacher.caches_schema and not teacher.quotes_schema
    text = sent_text("openai", request)
    assert '"$defs"' not in text and SCHEMA_ENFORCED in text and text == prompt
    # The request's response schema has every Field description of the model, nested ones too.
    wanted = descriptions(task.model.model_json_schema())
    assert len(wanted) >= 10 and descriptions(task.model.model_json_schema()["$defs"])   # nested models
    assert set(wanted) <= set(descriptions(request.schema))
    assert request.body["response_format"]["json_schema"]["strict"] is True
    assert titles(task.model.model_json_schema()) and titles(request.schema) == []


@pytest.mark.parametrize("task_name", sorted(TASKS))
def test_gemini_prompt_quotes_the_descriptions_and_the_request_carries_the_structure(monkeypatch, task_name):
    task = TASKS[task_name]
    teacher, prompt, request = send(monkeypatch, "gemini", "GEMINI_API_KEY", task)
    assert teacher.enforces_schema and not teacher.caches_schema and teacher.quotes_schema
    text = sent_text("gemini", request)
    assert schema_text(task.model) in text and SCHEMA_ENFORCED not in text and text == prompt
    # Every description once: in the prompt, before the image (the cached prefix), not in the response schema.
    wanted = descriptions(task.model.model_json_schema())
    assert len(wanted) >= 10 and all(json.dumps(d, ensure_ascii=False) in text for d in wanted)
    assert descriptions(request.schema) == [] and titles(request.schema) == []
    # ... and the structure is the model's, whole: the same properties, enums and required fields.
    assert request.schema == json.loads(schema_text(task.model, descriptions=False))
    assert json.dumps(request.schema).count('"enum"') == json.dumps(task.model.model_json_schema()).count('"enum"')
    assert request.body["generationConfig"]["responseMimeType"] == "application/json"


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
