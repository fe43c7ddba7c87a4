"""The privacy gate: documents with personal data never reach a cloud teacher unless allowed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from pipeline.render.config import RenderConfig, RenderRunConfig
from pipeline.label.privacy import find_personal_data
from pipeline.label.sources import PageSources
from pipeline.label.stage import LabelConfig, label_pages
from pipeline.render.stage import render_folder
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from pipeline.teachers import TeacherSettings, make_teacher
from pipeline.teachers.http import host_is_local
from tests.conftest import REPO_ROOT, make_pdf
from tests.support.provider_stub import ProviderStub
from tests.label.test_label import KEY, valid_answer

SENSITIVE = "IBAN DE89370400440532013000 Tel +49 30 1234567"


@pytest.mark.parametrize("text, kinds", [
    ("Transfer to GB82 WEST 1234 5698 7654 32 by Friday", ["iban"]),
    ("Card 4111 1111 1111 1111 exp 12/27", ["card"]),
    ("SSN 123-45-6789", ["ssn"]),
    ("الرقم القومي: 29001011234567", ["national_id_eg"]),
    ("موبايل ٠١٠١٢٣٤٥٦٧٨", ["phone"]),
    ("Contact: jane.doe@example.org or (555) 123-4567", ["email", "phone"]),
    # Look-alikes that must pass: a bad IBAN check, a non-Luhn number, an impossible birth date, dates, amounts.
    ("Ref DE89370400440532013001, order 4111111111111112, id 29013011234567", []),
    ("Invoice 2025-03-12, total 12,345.67 EGP, law No. 12 of 2003, page 3 of 12", []),
])
def test_detectors(text, kinds):
    assert find_personal_data(text) == kinds


def test_cloud_or_local_is_decided_by_teacher_and_host(monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    assert make_teacher("gemini", TeacherSettings(base_url="http://127.0.0.1:1")).off_machine
    assert not make_teacher("textlayer", TeacherSettings()).off_machine
    local = make_teacher("openai-compatible", TeacherSettings(model="m", base_url="http://192.168.1.5:8000/v1"))
    remote = make_teacher("openai-compatible", TeacherSettings(model="m", base_url="https://api.together.xyz/v1"))
    assert not local.off_machine and remote.off_machine
    assert host_is_local("http://[::1]:8000/v1") and not host_is_local("http://8.8.8.8/v1")


def _render(tmp_path):
    make_pdf(tmp_path / "in" / "clean.pdf", pages=2, text="Invoice 42")
    make_pdf(tmp_path / "in" / "transfer.pdf", pages=2, text="Payment")
    make_pdf(tmp_path / "in" / "z_last.pdf", pages=1, text=SENSITIVE)
    make_pdf(tmp_path / "in" / "jane.doe@example.org.pdf", pages=1, text="Hello")   # a file name is enough
    cfg = RenderRunConfig(pdf_dir=tmp_path / "in", run_dir=tmp_path / "run", render=RenderConfig(longest_side=128))
    with RunStore(cfg.run_dir) as store:
        render_folder(cfg, store, progress=False)
        shas = {p.image_sha256: p for p in store.iter_pages()}
    return cfg, shas


def _label(cfg, teacher, url, **kw):
    teacher_obj = make_teacher(teacher, TeacherSettings(base_url=url, model="local-m" if "compatible" in teacher
                                                        else None, timeout_s=5))
    with RunStore(cfg.run_dir) as store, PageSources(cfg, store) as sources:
        summary = label_pages(sources, LabelConfig(tasks=tuple(resolve_tasks(["content"])), concurrency=4, **kw),
                              store, teacher_obj, progress=False)
        labels = {(l.doc_id, l.page_index): l for l in store.iter_labels()}
    teacher_obj.close()
    return summary, labels


def test_a_document_with_an_iban_and_a_phone_is_never_sent_to_a_cloud_teacher(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cfg, shas = _render(tmp_path)
    with ProviderStub(valid_answer) as stub:
        summary, labels = _label(cfg, "gemini", stub.url)
        sent_docs = {shas[hashlib.sha256(r.image_bytes).hexdigest()].doc_id for r in stub.requests}
        blocked = {l.doc_id: l.detail for l in labels.values() if l.outcome == "sensitive_blocked"}
        assert len(stub.requests) == 4 and len(blocked) == 2 and not sent_docs & set(blocked)
        assert sorted(blocked.values()) == ["email", "iban, phone"]
        assert sorted((b["path"], tuple(b["kinds"])) for b in summary.blocked) == [
            ("jane.doe@example.org.pdf", ("email",)), ("z_last.pdf", ("iban", "phone"))]
        assert not any("DE89" in l.detail or "1234567" in l.detail for l in labels.values())   # kinds only
        # Rerun: still held back, nothing sent; --allow-sensitive sends them.
        summary, _ = _label(cfg, "gemini", stub.url)
        assert len(stub.requests) == 4 and summary.requests == 0 and len(summary.blocked) == 2
        summary, labels = _label(cfg, "gemini", stub.url, allow_sensitive=True)
        assert len(stub.requests) == 6 and all(l.outcome == "ok" for l in labels.values())


def test_a_local_openai_compatible_server_is_not_gated(tmp_path):
    cfg, _ = _render(tmp_path)
    with ProviderStub(valid_answer) as stub:            # the stub is on 127.0.0.1: a private host
        summary, labels = _label(cfg, "openai-compatible", stub.openai_url)
        assert len(stub.requests) == 6 and not summary.blocked


def test_cli_gates_and_never_writes_the_key(tmp_path):
    make_pdf(tmp_path / "in" / "a.pdf", pages=2)
    make_pdf(tmp_path / "in" / "b.pdf", text=SENSITIVE)
    env = {**{k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}, "OPENAI_API_KEY": KEY}
    with ProviderStub(valid_answer) as stub:
        result = subprocess.run([sys.executable, "-m", "pipeline.distill", str(tmp_path / "in"), "--out",
                                 str(tmp_path / "run"), "--teacher", "openai", "--base-url", stub.openai_url,
                                 "--longest-side", "200", "--no-progress"],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env)
        assert result.returncode == 0, result.stderr
        assert "sensitive_blocked b.pdf: iban, phone" in result.stdout and len(stub.requests) == 4
    assert KEY not in result.stdout + result.stderr
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_plan_then_gate_is_the_gate_for_other_senders(tmp_path, monkeypatch):
    """Batch mode plans as online (plan_requests, then gate_sensitive): the same documents are held back,
    nothing is sent to plan."""
    from pipeline.label.stage import gate_sensitive, plan_requests
    from pipeline.label.summary import LabelSummary

    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cfg, shas = _render(tmp_path)
    teacher = make_teacher("gemini", TeacherSettings(base_url="http://127.0.0.1:9"))
    summary = LabelSummary()
    label_cfg = LabelConfig(tasks=tuple(resolve_tasks(["content"])))
    with RunStore(cfg.run_dir) as store, PageSources(cfg, store) as sources:
        todo = gate_sensitive(list(plan_requests(store, label_cfg, teacher, summary)), sources, teacher, label_cfg,
                              store, summary)
        names = {store.get_document(job.page.doc_id)["path"] for job in todo}
        assert names == {"clean.pdf", "transfer.pdf"} and len(todo) == 4 and len(summary.blocked) == 2
        assert sorted(l.outcome for l in store.iter_labels()) == ["sensitive_blocked"] * 2


def test_a_page_tree_mupdf_cannot_walk_does_not_stop_the_gate(tmp_path, monkeypatch):
    """The scan reads every page it can: one that cannot be loaded was not rendered either, so it is not sent."""
    from tests.teachers.test_textlayer_unreadable import cyclic_page_tree_pdf

    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cyclic_page_tree_pdf(tmp_path / "in" / "cycle.pdf")
    cfg = RenderRunConfig(pdf_dir=tmp_path / "in", run_dir=tmp_path / "run", render=RenderConfig(longest_side=128))
    with RunStore(cfg.run_dir) as store:
        render_folder(cfg, store, progress=False)
    with ProviderStub(valid_answer) as stub:
        summary, labels = _label(cfg, "gemini", stub.url)
        assert len(stub.requests) == 1 and not summary.blocked and [l.outcome for l in labels.values()] == ["ok"]
