"""The label stage end to end: real SDK clients against the local stub, outcomes, resume, secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.render.config import RenderConfig, RenderRunConfig
from pipeline.label.sources import PageSources
from pipeline.label.stage import LabelConfig, label_pages
from pipeline.render.stage import render_folder
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from pipeline.teachers import TeacherSettings, make_teacher
from tests.conftest import REPO_ROOT, make_pdf
from tests.support.provider_stub import Behaviour, ProviderStub, StubRequest

KEY = "sk-test-DO-NOT-STORE-8d1f"
CONTENT = {"languages": ["en"], "direction": "ltr", "page_number": "1", "has_tables": False,
           "has_handwriting": False, "elements": [{"kind": "heading", "text": "Invoice 42", "level": 1}],
           "markdown": "# Invoice 42"}
METADATA = {"classification": {"document_type": "invoice", "category": "financial", "title": None},
            "source": {"issuer": "Northwind", "author": None, "sender": None, "recipient": None},
            "dates": [{"kind": "issue", "value": "2025-03-12", "as_printed": "12/03/2025"}],
            "physical": {"orientation": "portrait", "scan_quality": "born_digital", "color": "black_and_white",
                         "handwriting": "none"},
            "official_marks": [], "signatures": [], "routing": {"to": [], "cc": [], "reference_numbers": ["42"]},
            "attachments": [], "references": [], "condition_notes": [],
            "confidence": {"overall": 0.9, "notes": None}}


def valid_answer(request: StubRequest) -> Behaviour:
    """A schema-valid answer for whichever task the request is for."""
    return Behaviour.ok(CONTENT if "markdown" in json.dumps(request.schema or {}) else METADATA)


def render(tmp_path: Path, pages: int) -> RenderRunConfig:
    make_pdf(tmp_path / "in" / "invoice.pdf", pages=pages)
    cfg = RenderRunConfig(pdf_dir=tmp_path / "in", run_dir=tmp_path / "run", render=RenderConfig(longest_side=128))
    with RunStore(cfg.run_dir) as store:
        render_folder(cfg, store, progress=False)
    return cfg


def label(cfg: RenderRunConfig, teacher: str, url: str, tasks=("content",), **kw):
    teacher_obj = make_teacher(teacher, TeacherSettings(base_url=url, timeout_s=5))
    with RunStore(cfg.run_dir) as store, PageSources(cfg, store) as sources:
        summary = label_pages(sources, LabelConfig(tasks=tuple(resolve_tasks(list(tasks))), **kw), store,
                              teacher_obj, progress=False)
        outcomes = {(l.page_index, l.task): l for l in store.iter_labels()}
    teacher_obj.close()
    return summary, outcomes


# Page by page, what the stub answers (a repair re-ask follows each malformed answer).
GEMINI_SCRIPT = [
    ("ok", [Behaviour.ok(CONTENT)]),
    ("ok", [Behaviour.malformed(), Behaviour.ok(CONTENT)]),                      # repaired
    ("malformed_json", [Behaviour.malformed(), Behaviour.malformed("still not json")]),
    ("truncated", [Behaviour.truncated()]),
    ("safety_blocked", [Behaviour.safety()]),
    ("rate_limited", [Behaviour.status(429, retry_after=3)]),
    ("server_error", [Behaviour.status(503)]),
    ("prompt_blocked", [Behaviour.prompt_blocked()]),
    ("recitation_blocked", [Behaviour.recitation()]),
    ("ok", [Behaviour.ok("```json\n" + json.dumps(CONTENT) + "\n```")]),        # salvaged
    ("invalid", [Behaviour.ok({**CONTENT, "direction": "up"}), Behaviour.ok({"markdown": 1})]),
]
OPENAI_SCRIPT = [
    ("ok", [Behaviour.ok(CONTENT)]),
    ("refused", [Behaviour.refusal()]),
    ("safety_blocked", [Behaviour.safety()]),
    ("truncated", [Behaviour.truncated()]),
    ("server_error", [Behaviour.status(500)]),
    ("rate_limited", [Behaviour.status(429, retry_after=1)]),
    ("ok", [Behaviour.ok("Here it is: " + json.dumps(CONTENT) + " Anything else?")]),
    ("malformed_json", [Behaviour.malformed(), Behaviour.malformed()]),
]


def sequence(script):
    queue = [b for _, behaviours in script for b in behaviours]
    return lambda request: queue.pop(0) if queue else valid_answer(request)


@pytest.mark.parametrize("teacher, env, script", [("gemini", "GEMINI_API_KEY", GEMINI_SCRIPT),
                                                  ("openai", "OPENAI_API_KEY", OPENAI_SCRIPT)])
def test_every_failure_mode_is_its_own_outcome_and_reruns_resend_only_failures(
        tmp_path, monkeypatch, teacher, env, script):
    monkeypatch.setenv(env, KEY)
    cfg = render(tmp_path, pages=len(script))
    with ProviderStub(sequence(script)) as stub:
        url = stub.url if teacher == "gemini" else stub.openai_url
        summary, labels = label(cfg, teacher, url)
        assert [labels[(i, "content")].outcome for i in range(len(script))] == [want for want, _ in script]
        assert len(stub.requests) == summary.requests == sum(len(b) for _, b in script)
        ok = [labels[(i, "content")] for i, (want, _) in enumerate(script) if want == "ok"]
        assert all(l.label == CONTENT for l in ok)
        for page, (want, behaviours) in enumerate(script):
            stored = labels[(page, "content")]
            assert stored.attempts == len(behaviours)
            if want in ("malformed_json", "invalid", "truncated"):
                assert stored.raw_text, want  # the raw text is kept for every answered request
            if want == "refused":
                assert "sorry" in stored.detail
        warnings = sorted(w for l in ok for w in l.warnings)
        assert warnings == (["repaired", "salvaged:code_fence"] if teacher == "gemini" else ["salvaged:embedded"])

        # Rerun: only the transient failures (429, 5xx) are sent again, and now succeed.
        before = len(stub.requests)
        summary, labels = label(cfg, teacher, url)
        transient = [i for i, (want, _) in enumerate(script) if want in ("rate_limited", "server_error")]
        assert len(stub.requests) - before == len(transient) == summary.requests
        assert all(labels[(i, "content")].outcome == "ok" for i in transient)

        # --retry-failed re-sends the other failures; a finished run then sends nothing at all.
        summary, _ = label(cfg, teacher, url, retry_failed=True)
        assert summary.requests == sum(1 for want, _ in script if want not in ("ok", "rate_limited", "server_error"))
        before = len(stub.requests)
        summary, _ = label(cfg, teacher, url)
        assert len(stub.requests) == before and summary.requests == 0


def test_changed_prompt_or_model_relabels_only_what_it_affects(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cfg = render(tmp_path, pages=2)
    with ProviderStub(valid_answer) as stub:
        label(cfg, "gemini", stub.url, tasks=("content", "metadata"))
        assert len(stub.requests) == 4
        label(cfg, "gemini", stub.url, tasks=("content", "metadata"), anchor=True)  # a new prompt: 4 more
        assert len(stub.requests) == 8 and "<text_layer>" in stub.requests[-1].prompt_text
        assert "Invoice 42" in stub.requests[-1].prompt_text


def test_custom_receipt_task_is_labelled_and_validated(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cfg = render(tmp_path, pages=2)
    receipt = {"menu": [{"nm": "KOPI O", "cnt": "2", "price": "3.00"}],
               "sub_total": {"subtotal_price": "3.00", "discount_price": None, "service_price": None, "tax_price": None},
               "total": {"total_price": "3.00", "cashprice": "5.00", "changeprice": "2.00", "creditcardprice": None}}
    answers = [Behaviour.ok(receipt), Behaviour.ok({"menu": [{"price": "1"}]}), Behaviour.ok({"menu": "x"})]
    with ProviderStub(lambda request: answers.pop(0)) as stub:
        summary, labels = label(cfg, "gemini", stub.url, tasks=("receipt",))
        assert "menu" in json.dumps(stub.requests[0].schema)  # the JSON Schema file reached the provider
    assert labels[(0, "receipt")].label == receipt
    assert labels[(1, "receipt")].outcome == "invalid" and "menu" in labels[(1, "receipt")].detail  # after repair


def distill(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.distill", *args, "--json", "--no-progress"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("teacher, env_var", [("gemini", "GEMINI_API_KEY"), ("openai", "OPENAI_API_KEY")])
def test_cli_labels_a_folder_and_never_writes_the_key(tmp_path, teacher, env_var):
    make_pdf(tmp_path / "in" / "a.pdf", pages=2)
    make_pdf(tmp_path / "in" / "b.pdf", text="Letter")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    with ProviderStub(valid_answer) as stub:
        url = stub.url if teacher == "gemini" else stub.openai_url
        args = (str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--teacher", teacher, "--base-url", url,
                "--longest-side", "200")
        missing = distill(*args, env=env)
        assert missing.returncode == 2 and env_var in missing.stderr and not stub.requests
        result = distill(*args, env={**env, env_var: KEY})
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)["label"]
        assert summary["labels"] == {"content": {"ok": 3}, "metadata": {"ok": 3}}
        assert summary["tokens"]["in"] > 0 and summary["tokens"]["out"] > 0
        again = json.loads(distill(*args, env={**env, env_var: KEY}).stdout)["label"]
        assert again["requests"] == 0 and again["up_to_date"] == 6 and len(stub.requests) == 6
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_fatal_provider_errors_stop_the_run_and_keep_what_was_done(tmp_path):
    make_pdf(tmp_path / "in" / "a.pdf", pages=3)
    answers = [Behaviour.ok(CONTENT), Behaviour.status(403, message="API key not valid")]
    env = {**os.environ, "GEMINI_API_KEY": KEY}
    with ProviderStub(lambda request: answers.pop(0) if answers else valid_answer(request)) as stub:
        result = distill(str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--teacher", "gemini",
                         "--base-url", stub.url, "--task", "content", "--longest-side", "200",
                         "--concurrency", "1", env=env)  # one at a time: the 3rd page is never sent
        assert result.returncode == 3 and "GEMINI_API_KEY" in result.stderr and len(stub.requests) == 2
    with RunStore(tmp_path / "run") as store:
        assert [l.outcome for l in store.iter_labels()] == ["ok"]
