"""Batch mode end to end: real SDK clients against the local Batch API stub, submit, restart, collect."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pipeline.label.batch.run import BatchConfig, run_batch
from pipeline.errors import ConfigError
from pipeline.render.config import RenderConfig, RenderRunConfig
from pipeline.label.cost import load_prices
from pipeline.label.estimate import estimate_jobs
from pipeline.label.sources import PageSources
from pipeline.label.stage import LabelConfig
from pipeline.records import Job
from pipeline.render.stage import render_folder
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from pipeline.teachers import TeacherFatalError, TeacherSettings, make_teacher
from tests.support.batch_stub import BatchStub
from tests.conftest import REPO_ROOT, make_pdf
from tests.support.provider_stub import Behaviour
from tests.label.test_label import CONTENT, KEY, render, sequence, valid_answer

# Page by page, what the provider answers inside the job, and the outcome stored for it.
SCRIPT = [
    ("ok", Behaviour.ok(CONTENT)),
    ("rejected", Behaviour.status(400, message="Invalid image")),   # a line in the error file
    ("rate_limited", Behaviour.status(429)),
    ("server_error", Behaviour.status(503)),
    ("malformed_json", Behaviour.malformed()),                      # repaired in the next job
    ("truncated", Behaviour.truncated()),
    ("safety_blocked", Behaviour.safety()),
    (None, Behaviour("expired")),                                    # no answer: free to send again
    ("ok", Behaviour.ok("```json\n" + json.dumps(CONTENT) + "\n```")),
]
PROVIDERS = [("openai", "OPENAI_API_KEY"), ("gemini", "GEMINI_API_KEY")]


def batch(cfg, teacher: str, url: str, submit: bool = True, tasks=("content",), json_mode: str = "schema", **kw):
    """One run of the batch stage with fresh objects: a new teacher, a new store (as after a restart)."""
    teacher_obj = make_teacher(teacher, TeacherSettings(base_url=url, timeout_s=5, json_mode=json_mode))
    with RunStore(cfg.run_dir) as store, PageSources(cfg, store) as sources:
        summary = run_batch(sources, LabelConfig(tasks=tuple(resolve_tasks(list(tasks))), **kw),
                            BatchConfig(submit=submit, poll_interval_s=0.01), store, teacher_obj, load_prices())
        labels = {l.page_index: l for l in store.iter_labels()}
    teacher_obj.close()
    return summary, labels


@pytest.mark.parametrize("teacher, env", PROVIDERS)
def test_submit_restart_collect_and_never_send_twice(tmp_path, monkeypatch, teacher, env):
    monkeypatch.setenv(env, KEY)
    cfg = render(tmp_path, pages=len(SCRIPT))
    with BatchStub(sequence([(want, [b]) for want, b in SCRIPT])) as stub:
        url = stub.url if teacher == "gemini" else stub.openai_url
        summary, labels = batch(cfg, teacher, url)
        assert summary.jobs_submitted == 1 and summary.requests_submitted == len(SCRIPT) and not labels
        assert summary.estimated_cost_usd > 0
        posts = stub.posts()
        with RunStore(cfg.run_dir) as store:
            assert store.count_batch_jobs() == {"pending": 1} and len(store.batch_pending_keys()) == len(SCRIPT)

        # A rerun while the job is pending sends nothing: its keys are inside a pending job.
        summary, labels = batch(cfg, teacher, url)
        assert stub.posts() == posts and summary.in_pending_jobs == len(SCRIPT) and summary.jobs_pending == 1

        stub.finish()
        summary, labels = batch(cfg, teacher, url, submit=False)        # --collect
        assert stub.posts() == posts and summary.jobs_collected == 1 and summary.jobs_pending == 0
        assert {i: labels[i].outcome if i in labels else None for i in range(len(SCRIPT))} == \
            {i: want for i, (want, _) in enumerate(SCRIPT)}
        assert labels[0].label == CONTENT and labels[8].label == CONTENT
        assert labels[8].warnings == ["salvaged:code_fence"]
        assert "Invalid image" in labels[1].detail and labels[4].raw_text
        assert summary.tokens_in > 0 and summary.cost_usd > 0
        assert all(l.attempts == 1 and l.model == make_teacher(teacher, TeacherSettings()).model
                   for l in labels.values())
        assert all(l.params == {"temperature": 0.0, "max_output_tokens": 8192, **({"image_detail": "high"}
                   if teacher == "openai" else {})} for l in labels.values())

        # The next run sends again what a rerun sends online (429, 5xx), the unanswered one, and the
        # malformed answer's one repair re-ask, quoting what was wrong with it.
        summary, _ = batch(cfg, teacher, url)
        assert summary.requests_submitted == 4 and summary.up_to_date == len(SCRIPT) - 4
        stub.finish()
        assert sum("previous answer was rejected" in r.prompt_text for r in stub.answered) == 1
        summary, labels = batch(cfg, teacher, url)
        assert summary.jobs_collected == 1 and summary.requests_submitted == 0
        assert [labels[i].outcome for i in (2, 3, 4, 7)] == ["ok", "ok", "ok", "ok"]
        assert labels[4].attempts == 2 and labels[4].warnings == ["repaired"] and labels[4].label == CONTENT

        # Finished: a rerun polls nothing and sends nothing.
        calls = len(stub.calls)
        summary, _ = batch(cfg, teacher, url)
        assert len(stub.calls) == calls and summary.requests == 0
    for path in cfg.run_dir.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("teacher, env", PROVIDERS)
def test_a_failed_job_frees_its_keys_for_the_next_run(tmp_path, monkeypatch, teacher, env):
    monkeypatch.setenv(env, KEY)
    cfg = render(tmp_path, pages=2)
    with BatchStub(valid_answer) as stub:
        url = stub.url if teacher == "gemini" else stub.openai_url
        batch(cfg, teacher, url)
        stub.finish(failed=True)
        summary, labels = batch(cfg, teacher, url, submit=False)
        assert summary.jobs_failed == 1 and not labels and not stub.answered
        with RunStore(cfg.run_dir) as store:
            assert store.count_batch_jobs() == {"failed": 1} and not store.batch_pending_keys()
        summary, _ = batch(cfg, teacher, url)
        assert summary.requests_submitted == 2
        stub.finish()
        _, labels = batch(cfg, teacher, url, submit=False)
        assert [l.outcome for l in labels.values()] == ["ok", "ok"]


@pytest.mark.parametrize("teacher, env", PROVIDERS)
def test_a_lost_create_answer_is_found_by_name_and_a_refused_one_is_sent_again(tmp_path, monkeypatch, teacher, env):
    monkeypatch.setenv(env, KEY)
    cfg = render(tmp_path, pages=2)
    with BatchStub(valid_answer, lose_creates=1) as stub:
        url = stub.url if teacher == "gemini" else stub.openai_url
        jobs = stub.gemini_jobs if teacher == "gemini" else stub.openai_jobs
        with pytest.raises(TeacherFatalError, match="could not create the batch"):   # no answer: state unknown
            batch(cfg, teacher, url)
        with RunStore(cfg.run_dir) as store:
            assert store.count_batch_jobs() == {"submitting": 1} and len(store.batch_pending_keys()) == 2
        summary, _ = batch(cfg, teacher, url)            # finds the job by its name: nothing sent twice
        assert len(jobs) == 1 and summary.requests_submitted == 0 and summary.jobs[0]["state"] == "recovered"
        stub.finish()
        _, labels = batch(cfg, teacher, url, submit=False)
        assert [l.outcome for l in labels.values()] == ["ok", "ok"]
    with BatchStub(valid_answer, refuse_creates=1) as stub:
        url = stub.url if teacher == "gemini" else stub.openai_url
        with pytest.raises(TeacherFatalError, match="rerun to try again"):
            batch(cfg, teacher, url, tasks=("metadata",))
        with RunStore(cfg.run_dir) as store:                 # refused for sure: forgotten, keys free
            assert store.count_batch_jobs() == {"collected": 1} and not store.batch_pending_keys()
        summary, _ = batch(cfg, teacher, url, tasks=("metadata",))
        assert summary.requests_submitted == 2


def test_jobs_are_split_by_size_and_wait_polls_until_done(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    cfg = render(tmp_path, pages=5)
    with BatchStub(valid_answer, finish_after_polls=2) as stub:
        teacher_obj = make_teacher("openai", TeacherSettings(base_url=stub.openai_url))
        with RunStore(cfg.run_dir) as store, PageSources(cfg, store) as sources:
            summary = run_batch(sources, LabelConfig(tasks=tuple(resolve_tasks(["content"]))),
                                BatchConfig(wait=True, poll_interval_s=0.01, max_requests_per_job=2), store,
                                teacher_obj)
            assert [j["requests"] for j in summary.jobs if j["state"] == "submitted"] == [2, 2, 1]
            assert summary.jobs_collected == 3 and summary.jobs_pending == 0
            assert {l.outcome for l in store.iter_labels()} == {"ok"} and len(list(store.iter_labels())) == 5
        teacher_obj.close()


def test_privacy_gate_and_dry_run_apply_to_batches(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    make_pdf(tmp_path / "in" / "clean.pdf", pages=2)
    make_pdf(tmp_path / "in" / "personal.pdf", text="Contact jane.doe@example.com")
    cfg = RenderRunConfig(pdf_dir=tmp_path / "in", run_dir=tmp_path / "run", render=RenderConfig(longest_side=128))
    with RunStore(cfg.run_dir) as store:
        render_folder(cfg, store, progress=False)
    with BatchStub(valid_answer) as stub:
        # The schema quoted (--json-mode object): a static prompt of 1,024+ tokens, which Gemini's documented
        # implicit caching serves (the response schema's own caching is not documented: not assumed).
        summary, _ = batch(cfg, "gemini", stub.url, dry_run=True, json_mode="object")   # nothing sent or written
        assert summary.estimate["batch"] and summary.estimate["requests"] == 2 and stub.posts() == 0
        online = estimate_jobs([Job(p, resolve_tasks(["content"])[0], "k") for p in _pages(cfg)[:2]], None,
                               make_teacher("gemini", TeacherSettings(json_mode="object")), False,
                               load_prices().get("gemini-2.5-flash"))
        # Half the online rates, except the second request's cached prompt: Gemini Batch bills a cache
        # hit at the online cached rate ($0.03 per 1M), not half of it.
        price = load_prices().get("gemini-2.5-flash")
        assert online["cached_tokens_assumed"] > 1000 and price.cached_input == price.batch_cached_input == 0.03
        fresh = online["image_tokens"] + online["prompt_tokens"] - online["cached_tokens_assumed"]
        expected = ((fresh * 0.30 + online["output_tokens_assumed"] * 2.50) * 0.5
                    + online["cached_tokens_assumed"] * 0.03) / 1e6
        assert summary.estimate["cost_usd"] == pytest.approx(expected, abs=1e-6)
        with RunStore(cfg.run_dir) as store:
            assert not list(store.iter_labels()) and not store.batch_pending_keys()

        summary, labels = batch(cfg, "gemini", stub.url)
        assert summary.requests_submitted == 2 and summary.blocked[0]["kinds"] == ["email"]
        assert {l.outcome for l in labels.values()} == {"sensitive_blocked"}   # the personal page, held back
        summary, _ = batch(cfg, "gemini", stub.url, allow_sensitive=True)
        assert summary.requests_submitted == 1 and summary.in_pending_jobs == 2


def _pages(cfg):
    with RunStore(cfg.run_dir) as store:
        return [p for p in store.iter_pages() if p.page_index < 2]


def test_only_api_teachers_have_a_batch_mode(tmp_path):
    cfg = render(tmp_path, pages=1)
    with RunStore(cfg.run_dir) as store, PageSources(cfg, store) as sources, \
            pytest.raises(ConfigError, match="--teacher openai or gemini"):
        run_batch(sources, LabelConfig(tasks=tuple(resolve_tasks(["content"]))), BatchConfig(), store,
                  make_teacher("textlayer", TeacherSettings()))


def distill(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.distill", *args, "--json", "--no-progress"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env)


def test_cli_batch_then_collect_in_a_new_process(tmp_path):
    make_pdf(tmp_path / "in" / "a.pdf", pages=2)
    env = {**{k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}, "GEMINI_API_KEY": KEY}
    with BatchStub(valid_answer) as stub:
        args = (str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--teacher", "gemini", "--base-url", stub.url,
                "--longest-side", "200")
        result = distill(*args, "--batch", env=env)
        assert result.returncode == 1 and "4 request(s) wait in batch jobs" in result.stderr  # collect later
        submitted = json.loads(result.stdout)["label"]["batch"]
        assert submitted["jobs_submitted"] == 1 and submitted["requests_submitted"] == 4
        stub.finish()
        result = distill(*args, "--collect", env=env)
        assert result.returncode == 0, result.stderr
        label = json.loads(result.stdout)["label"]
        assert label["labels"] == {"content": {"ok": 2}, "metadata": {"ok": 2}} and label["cost_usd"] > 0
        assert label["batch"]["jobs_collected"] == 1 and len(stub.answered) == 4
        textlayer = distill(str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--batch", env=env)
        assert textlayer.returncode == 2 and "--teacher openai or gemini" in textlayer.stderr


def test_an_online_run_does_not_send_what_waits_in_a_batch_job(tmp_path, monkeypatch):
    from tests.support.provider_stub import ProviderStub
    from tests.label.test_label import label

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    cfg = render(tmp_path, pages=3)
    with BatchStub(lambda request: Behaviour.ok(CONTENT)) as stub:
        summary, _ = batch(cfg, "openai", stub.openai_url)
        assert summary.requests_submitted == 3
    with ProviderStub(lambda request: Behaviour.ok(CONTENT)) as online:
        summary, labels = label(cfg, "openai", online.openai_url)
        assert online.requests == [] and not labels and summary.in_batch_jobs == 3


@pytest.mark.parametrize("teacher, env", PROVIDERS)
def test_batch_requests_put_the_static_prompt_first_and_cached_tokens_are_priced(tmp_path, monkeypatch, teacher, env):
    monkeypatch.setenv(env, KEY)
    cfg = render(tmp_path, pages=3)
    # The static prompt as each teacher sends it: Gemini quotes the schema there (Teacher.quotes_schema).
    static = resolve_tasks(["content"])[0].teacher_prompt(None, quote_schema=teacher == "gemini")
    with BatchStub(valid_answer) as stub:
        url = stub.url if teacher == "gemini" else stub.openai_url
        batch(cfg, teacher, url)
        stub.finish()
        summary, labels = batch(cfg, teacher, url, submit=False)
    assert {l.outcome for l in labels.values()} == {"ok"} and len(stub.answered) == 3
    for request in stub.answered:          # the online layout: static prompt, image, nothing after
        kinds = [kind for kind, _, _ in request.prefix_units()]
        assert kinds == ["schema", "text", "image"] and request.prefix_units()[1][1] == static
    if teacher == "gemini":
        cached = [r.usage.get("cachedContentTokenCount", 0) for r in stub.answered]
        usage = [(r.usage["promptTokenCount"], r.usage["candidatesTokenCount"]) for r in stub.answered]
    else:
        cached = [r.usage["prompt_tokens_details"]["cached_tokens"] for r in stub.answered]
        usage = [(r.usage["prompt_tokens"], r.usage["completion_tokens"]) for r in stub.answered]
    assert cached[0] == 0 and all(c >= 1024 for c in cached[1:]) and summary.tokens_cached == sum(cached)
    # Gemini Batch bills a cache hit at the online cached rate ($0.03/1M); OpenAI lists no Batch cached
    # rate for gpt-4o, so its cached tokens cost the batch input rate (half of $2.50).
    input_rate, cached_rate, output_rate = (0.30, 0.03, 2.50) if teacher == "gemini" else (2.50, 1.25, 10.0)
    by_hand = sum(((i - c) * input_rate * 0.5 + c * cached_rate + o * output_rate * 0.5) / 1e6
                  for (i, o), c in zip(usage, cached))
    assert summary.cost_usd == pytest.approx(by_hand, rel=1e-9)
