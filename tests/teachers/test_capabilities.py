"""What each teacher says it can do: the rest of the pipeline asks these instead of checking names."""

from __future__ import annotations

import pytest

from pipeline.teachers import TEACHER_NAMES, TeacherSettings, batch_teacher_names, make_teacher, teacher_class
from pipeline.teachers.gemini_batch import GeminiBatch
from pipeline.teachers.openai_batch import OpenAIBatch

KEY = "sk-test-capabilities-0123456789"


def _teacher(name: str, monkeypatch, base_url: str = "http://127.0.0.1:9/v1"):
    for var in ("GEMINI_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.setenv(var, KEY)
    return make_teacher(name, TeacherSettings(model="m" if name == "openai-compatible" else None, base_url=base_url))


@pytest.mark.parametrize("name", TEACHER_NAMES)
def test_the_class_says_before_building_what_an_instance_does(name, monkeypatch):
    teacher = _teacher(name, monkeypatch)
    client = teacher.batch_client()
    try:
        assert (client is not None) == teacher_class(name).has_batch_api
        assert teacher.name == name and type(teacher) is teacher_class(name)
    finally:
        if client is not None:
            client.close()
        teacher.close()


def test_declarations(monkeypatch):
    textlayer, gemini, openai = (_teacher(n, monkeypatch) for n in ("textlayer", "gemini", "openai"))
    assert (textlayer.priced, textlayer.thread_safe, textlayer.off_machine) == (False, False, False)
    assert textlayer.image_tokens(1086, 1536) == 0 and textlayer.image_rule() == "offline, free"
    assert all((t.priced, t.thread_safe, t.off_machine) == (True, True, True) for t in (gemini, openai))
    assert gemini.image_tokens(1086, 1536) == 1032 and openai.image_tokens(1086, 1536) == 1105
    assert isinstance(gemini.batch_client(), GeminiBatch) and isinstance(openai.batch_client(), OpenAIBatch)
    assert batch_teacher_names() == ("openai", "gemini")
    local = _teacher("openai-compatible", monkeypatch, "http://192.168.1.5:8000/v1")
    remote = _teacher("openai-compatible", monkeypatch, "https://api.together.xyz/v1")
    assert (local.off_machine, remote.off_machine, local.batch_client()) == (False, True, None)


def test_scrub_hides_the_key_but_not_a_placeholder(monkeypatch):
    gemini = _teacher("gemini", monkeypatch)
    assert gemini.scrub(f"400 API key {KEY} not valid") == "400 API key *** not valid"
    monkeypatch.delenv("OPENAI_COMPATIBLE_API_KEY", raising=False)
    local = _teacher("openai-compatible", monkeypatch)
    assert local.scrub("EMPTY is the placeholder key") == "EMPTY is the placeholder key"
