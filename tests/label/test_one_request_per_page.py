"""``--one-request-per-page``: both tasks in one request, split back, each part checked and repaired on its own."""

from __future__ import annotations

import json

import pytest

from pipeline.distill import build_parser, label_config_from_args
from pipeline.errors import ConfigError
from pipeline.label.combined import combined_task
from pipeline.tasks import resolve_tasks
from tests.label.test_label import CONTENT, KEY, METADATA, label, render
from tests.support.provider_stub import Behaviour, ProviderStub, StubRequest

TASKS = tuple(resolve_tasks(["content", "metadata"]))
BOTH = combined_task(TASKS)


def kind(request: StubRequest) -> str:
    props = set((request.schema or {}).get("properties", {}))
    return "both" if props == {"content", "metadata"} else "content" if "markdown" in props else "metadata"


def answers(combined: Behaviour):
    """The combined request gets ``combined``; a single-task request gets a valid answer for its task."""
    def responder(request: StubRequest) -> Behaviour:
        return {"both": combined, "content": Behaviour.ok(CONTENT), "metadata": Behaviour.ok(METADATA)}[kind(request)]
    return responder


def test_the_combined_schema_and_prompt_come_from_the_task_models():
    schema = BOTH.model.model_json_schema()
    assert schema["required"] == ["content", "metadata"] and schema["additionalProperties"] is False
    assert BOTH.parse({"content": CONTENT, "metadata": METADATA}).content.markdown == "# Invoice 42"
    prompt = BOTH.teacher_prompt(None)
    for task in TASKS:       # every task's instructions, once; the one schema at the end
        assert task.teacher_template.split("\n")[0] in prompt
    assert prompt.count('"properties"') == prompt.count('"properties"', prompt.rindex("## Output"))
    assert combined_task(TASKS) is BOTH                       # built once per task set


@pytest.mark.parametrize("teacher, env", [("gemini", "GEMINI_API_KEY"), ("openai", "OPENAI_API_KEY")])
def test_one_request_per_page_sends_each_image_once_and_stores_one_label_per_task(tmp_path, monkeypatch,
                                                                                teacher, env):
    monkeypatch.setenv(env, KEY)
    cfg = render(tmp_path, pages=3)
    with ProviderStub(answers(Behaviour.ok({"content": CONTENT, "metadata": METADATA}))) as stub:
        url = stub.url if teacher == "gemini" else stub.openai_url
        summary, labels = label(cfg, teacher, url, tasks=("content", "metadata"), concurrency=1,
                                one_request_per_page=True)
    requests = stub.requests
    assert [kind(r) for r in requests] == ["both"] * 3 and len({r.image_bytes for r in requests}) == 3
    assert {(l.task, l.outcome) for l in labels.values()} == {("content", "ok"), ("metadata", "ok")}
    assert len(labels) == 6 and all(l.params["one_request_per_page"] for l in labels.values())
    assert labels[(0, "content")].label["markdown"] == "# Invoice 42"
    assert labels[(0, "metadata")].label["source"]["issuer"] == "Northwind"
    # The combined prompt is cached too, and the tokens are shared out without loss.
    assert summary.requests == 3 and summary.tokens_cached > 0
    assert sum(l.tokens_in for l in labels.values()) == summary.tokens_in
    assert sum(l.tokens_out for l in labels.values()) == summary.tokens_out
    assert sum(l.attempts for l in labels.values()) == 3


def test_a_failed_part_gets_one_repair_re_ask_of_its_own_task(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cfg = render(tmp_path, pages=1)
    bad = Behaviour.ok({"content": CONTENT, "metadata": {**METADATA, "confidence": "high"}})
    with ProviderStub(answers(bad)) as stub:
        summary, labels = label(cfg, "gemini", stub.url, tasks=("content", "metadata"), concurrency=1,
                                one_request_per_page=True)
    both, repair = stub.requests
    assert kind(both) == "both" and kind(repair) == "metadata"          # only the part that failed
    assert "## Your previous answer was rejected" in repair.prompt_text and "confidence" in repair.prompt_text
    assert labels[(0, "content")].outcome == "ok" and labels[(0, "content")].warnings == []
    assert labels[(0, "metadata")].outcome == "ok" and labels[(0, "metadata")].warnings == ["repaired"]
    assert labels[(0, "metadata")].attempts == 1 and labels[(0, "content")].attempts == 1


def test_a_cut_off_combined_answer_is_asked_again_task_by_task(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    cfg = render(tmp_path, pages=1)
    with ProviderStub(answers(Behaviour.truncated('{"content": {"markdown": "# Inv'))) as stub:
        summary, labels = label(cfg, "openai", stub.openai_url, tasks=("content", "metadata"), concurrency=1,
                                one_request_per_page=True)
    assert [kind(r) for r in stub.requests] == ["both", "content", "metadata"]
    for task in ("content", "metadata"):
        assert labels[(0, task)].outcome == "ok"
        assert "one_request_per_page:asked_alone" in labels[(0, task)].warnings


def test_a_blocked_combined_answer_is_every_tasks_outcome(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cfg = render(tmp_path, pages=1)
    with ProviderStub(answers(Behaviour.safety())) as stub:
        summary, labels = label(cfg, "gemini", stub.url, tasks=("content", "metadata"), concurrency=1,
                                one_request_per_page=True)
    assert len(stub.requests) == 1
    assert {l.outcome for l in labels.values()} == {"safety_blocked"} and len(labels) == 2


def test_the_flag_reaches_the_config_with_or_without_batch(tmp_path):
    args = build_parser().parse_args([str(tmp_path), "--out", str(tmp_path / "run"), "--one-request-per-page"])
    assert label_config_from_args(args).one_request_per_page is True
    assert label_config_from_args(build_parser().parse_args([str(tmp_path), "--out", "x"])).one_request_per_page is False
    from pipeline.distill import _batch_config
    batched = build_parser().parse_args([str(tmp_path), "--out", "x", "--teacher", "gemini", "--batch",
                                         "--one-request-per-page"])
    assert _batch_config(batched) is not None and label_config_from_args(batched).one_request_per_page is True
    assert json.dumps(BOTH.schema_json)                        # the schema is plain JSON (stored with the run)


def test_a_teacher_that_cannot_combine_tasks_is_a_config_error(tmp_path):
    cfg = render(tmp_path, pages=1)
    with pytest.raises(ConfigError, match="one-request-per-page needs a teacher"):
        label(cfg, "textlayer", None, tasks=("content", "metadata"), one_request_per_page=True)
