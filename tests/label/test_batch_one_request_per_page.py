"""``--batch --one-request-per-page`` (and ``--pages-per-request``): a page's tasks (several pages') in one Batch
request, split back and checked per page and task.

Real SDK clients against the Batch API stub, both providers: the same combined request as online (one
image, one static prompt, the combined schema), one label per task from its part of the answer, a part
that fails repaired alone in the next job, and a page whose combined answer was cut off asked task by task.
"""

from __future__ import annotations

import pytest

from pipeline.label.batch.run import BatchConfig, run_batch
from pipeline.label.combined import combined_task
from pipeline.label.cost import load_prices
from pipeline.label.sources import PageSources
from pipeline.label.stage import LabelConfig
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from pipeline.teachers import TeacherSettings, make_teacher
from tests.label.test_label import CONTENT, KEY, METADATA, render
from tests.label.test_one_request_per_page import kind
from tests.label.test_pages_per_request import kind as pages_kind
from tests.label.test_pages_per_request import pages_by_image
from tests.label.test_pages_per_request import responder as pages_responder
from tests.support.batch_stub import BatchStub
from tests.support.provider_stub import Behaviour, StubRequest

TASKS = tuple(resolve_tasks(["content", "metadata"]))
PROVIDERS = [("openai", "OPENAI_API_KEY"), ("gemini", "GEMINI_API_KEY")]
BOTH = {"content": CONTENT, "metadata": METADATA}


def batch(cfg, teacher: str, url: str, submit: bool = True, **kw):
    """One batch run, both tasks, one request per page (or ``pages_per_request``); returns (summary,
    {(page, task): label})."""
    teacher_obj = make_teacher(teacher, TeacherSettings(base_url=url, timeout_s=5))
    with RunStore(cfg.run_dir) as store, PageSources(cfg, store) as sources:
        summary = run_batch(sources, LabelConfig(tasks=TASKS, one_request_per_page=True, **kw),
                            BatchConfig(submit=submit, poll_interval_s=0.01), store, teacher_obj, load_prices())
        labels = {(l.page_index, l.task): l for l in store.iter_labels()}
    teacher_obj.close()
    return summary, labels


@pytest.mark.parametrize("teacher, env", PROVIDERS)
def test_each_page_is_one_batch_request_and_each_task_gets_its_own_label(tmp_path, monkeypatch, teacher, env):
    monkeypatch.setenv(env, KEY)
    cfg = render(tmp_path, pages=3)
    with BatchStub(lambda request: Behaviour.ok(BOTH)) as stub:
        url = stub.url if teacher == "gemini" else stub.openai_url
        summary, labels = batch(cfg, teacher, url)
        assert summary.requests_submitted == 3 and not labels      # three requests: one per page
        with RunStore(cfg.run_dir) as store:                        # ... holding six request keys
            assert len(store.batch_pending_keys()) == 6
        stub.finish()
        summary, labels = batch(cfg, teacher, url, submit=False)
    assert [kind(r) for r in stub.answered] == ["both"] * 3 and len({r.image_bytes for r in stub.answered}) == 3
    assert {(task, l.outcome) for (_, task), l in labels.items()} == {("content", "ok"), ("metadata", "ok")}
    assert len(labels) == 6 and all(l.params["one_request_per_page"] for l in labels.values())
    assert labels[(0, "content")].label["markdown"] == "# Invoice 42"
    assert labels[(2, "metadata")].label["source"]["issuer"] == "Northwind"
    # The online layout: the combined static prompt first, so the later requests hit the prompt cache.
    plain = make_teacher(teacher, TeacherSettings())
    both = plain.prompt_for(combined_task(TASKS))
    plain.close()
    assert all(r.prefix_units()[1][1] == both for r in stub.answered)
    assert summary.tokens_cached > 0
    # Tokens shared out without loss; the cost is the whole answers' at the Batch rates.
    assert sum(l.tokens_in for l in labels.values()) == summary.tokens_in
    assert sum(l.tokens_out for l in labels.values()) == summary.tokens_out
    # A rerun has nothing left to send: every task of every page is labelled.
    with BatchStub() as again:
        url = again.url if teacher == "gemini" else again.openai_url
        summary, _ = batch(cfg, teacher, url)
        assert again.posts() == 0 and summary.requests_submitted == 0


@pytest.mark.parametrize("teacher, env", PROVIDERS)
def test_a_failed_part_is_repaired_alone_and_a_cut_off_page_is_asked_task_by_task(tmp_path, monkeypatch,
                                                                                 teacher, env):
    monkeypatch.setenv(env, KEY)
    cfg = render(tmp_path, pages=3)
    page_of = pages_by_image(cfg)
    assert sorted(page_of.values()) == [0, 1, 2]

    def responder(request: StubRequest) -> Behaviour:
        if kind(request) != "both":            # the follow-ups, task by task
            return Behaviour.ok(CONTENT if kind(request) == "content" else METADATA)
        page = page_of[request.image_bytes]
        if page == 0:                          # metadata's part is not what its schema asks for
            return Behaviour.ok({"content": CONTENT, "metadata": {"classification": "invoice"}})
        if page == 1:
            return Behaviour.truncated()
        return Behaviour.ok(BOTH)

    with BatchStub(responder) as stub:
        url = stub.url if teacher == "gemini" else stub.openai_url
        batch(cfg, teacher, url)
        stub.finish()
        _, labels = batch(cfg, teacher, url, submit=False)
        assert {key: l.outcome for key, l in labels.items()} == {
            (0, "content"): "ok", (0, "metadata"): "invalid", (1, "content"): "truncated",
            (1, "metadata"): "truncated", (2, "content"): "ok", (2, "metadata"): "ok"}
        assert len(stub.answered) == 3

        # The next job: the invalid part's repair re-ask, alone (attempt 2).
        batch(cfg, teacher, url)
        stub.finish()
        _, labels = batch(cfg, teacher, url, submit=False)
        assert [(page_of[r.image_bytes], kind(r)) for r in stub.answered[3:]] == [(0, "metadata")]
        # The cut-off page, asked again with --retry-failed: task by task, never in one request again.
        batch(cfg, teacher, url, retry_failed=True)
        stub.finish()
        summary, labels = batch(cfg, teacher, url, submit=False)
        assert sorted((page_of[r.image_bytes], kind(r)) for r in stub.answered[4:]) == [(1, "content"), (1, "metadata")]
    assert {l.outcome for l in labels.values()} == {"ok"} and len(labels) == 6
    repaired = labels[(0, "metadata")]
    assert "repaired" in repaired.warnings and repaired.attempts == 2


@pytest.mark.parametrize("teacher, env", PROVIDERS)
def test_pages_per_request_in_a_batch_splits_back_per_page_and_task(tmp_path, monkeypatch, teacher, env):
    monkeypatch.setenv(env, KEY)
    cfg = render(tmp_path, pages=5)
    page_of = pages_by_image(cfg)
    with BatchStub(pages_responder(page_of)) as stub:
        url = stub.url if teacher == "gemini" else stub.openai_url
        summary, _ = batch(cfg, teacher, url, pages_per_request=2)
        assert summary.requests_submitted == 3                     # 2 + 2 + 1 pages
        stub.finish()
        summary, labels = batch(cfg, teacher, url, submit=False, pages_per_request=2)
    assert [pages_kind(r) for r in stub.answered] == ["pages:2", "pages:2", "both"]
    assert {l.outcome for l in labels.values()} == {"ok"} and len(labels) == 10
    for page in range(5):                  # every page's label is its own page's answer
        assert labels[(page, "content")].label["markdown"] == f"# Page {page}"
        assert labels[(page, "metadata")].params.get("pages_per_request") == (2 if page < 4 else None)
    assert sum(l.tokens_in for l in labels.values()) == summary.tokens_in and summary.tokens_cached > 0
