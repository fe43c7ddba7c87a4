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
# A policy that blocks what the default lets through (the issuer's IBAN and switchboard on a letterhead).
STRICT = "actions:\n  organisational: block\n  personal: block\n  card.identifier: block\n  iban.identifier: block\n"


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


def test_a_document_with_an_iban_and_a_phone_is_never_sent_under_a_blocking_policy(tmp_path, monkeypatch):
    """Rewritten for the policy by risk: the default sends a letterhead's IBAN and Tel (organisational);
    a policy that blocks contact data and IBANs holds the page back as the old gate did."""
    from pipeline.label.privacy import load_policy

    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    (tmp_path / "strict.yaml").write_text(STRICT)
    strict = load_policy(tmp_path / "strict.yaml")
    cfg, shas = _render(tmp_path)
    with ProviderStub(valid_answer) as stub:
        summary, labels = _label(cfg, "gemini", stub.url, privacy_policy=strict)
        sent_docs = {shas[hashlib.sha256(r.image_bytes).hexdigest()].doc_id for r in stub.requests}
        blocked = {l.doc_id: l.detail for l in labels.values() if l.outcome == "sensitive_blocked"}
        assert len(stub.requests) == 4 and len(blocked) == 2 and not sent_docs & set(blocked)
        assert sorted(blocked.values()) == ["email", "iban, phone"]
        assert sorted((b["path"], tuple(b["kinds"])) for b in summary.blocked) == [
            ("jane.doe@example.org.pdf", ("email",)), ("z_last.pdf", ("iban", "phone"))]
        assert not any("DE89" in l.detail or "1234567" in l.detail for l in labels.values())   # kinds only
        # Rerun: still held back, nothing sent; --allow-sensitive sends them.
        summary, _ = _label(cfg, "gemini", stub.url, privacy_policy=strict)
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
    (tmp_path / "strict.yaml").write_text(STRICT)     # rewritten: the default would send b.pdf's letterhead
    env = {**{k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}, "OPENAI_API_KEY": KEY}
    with ProviderStub(valid_answer) as stub:
        result = subprocess.run([sys.executable, "-m", "pipeline.distill", str(tmp_path / "in"), "--out",
                                 str(tmp_path / "run"), "--teacher", "openai", "--base-url", stub.openai_url,
                                 "--longest-side", "200", "--no-progress", "--privacy-policy",
                                 str(tmp_path / "strict.yaml")],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env)
        assert result.returncode == 0, result.stderr
        assert "sensitive_blocked b.pdf: iban, phone page(s) 1" in result.stdout and len(stub.requests) == 4
    assert KEY not in result.stdout + result.stderr
    for path in (tmp_path / "run").rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_plan_then_gate_is_the_gate_for_other_senders(tmp_path, monkeypatch):
    from pipeline.label.privacy import load_policy
    """Batch mode plans as online (plan_requests, then gate_sensitive): the same documents are held back,
    nothing is sent to plan."""
    from pipeline.label.stage import gate_sensitive, plan_requests
    from pipeline.label.summary import LabelSummary

    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cfg, shas = _render(tmp_path)
    teacher = make_teacher("gemini", TeacherSettings(base_url="http://127.0.0.1:9"))
    summary = LabelSummary()
    (tmp_path / "strict.yaml").write_text(STRICT)
    label_cfg = LabelConfig(tasks=tuple(resolve_tasks(["content"])), privacy_policy=load_policy(tmp_path / "strict.yaml"))
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


# --- policy by risk, redact and restore (issue 17) ---------------------------------------------------------

LETTER = ["Northwind Trading Ltd  Tel: +44 20 7946 0117", "info@northwind.example   www.northwind.example",
          "Dear Ms Roe,", "please confirm to roe.jane@gmail.com or on Mobile: +44 7911 123456",
          "Invoice No. INV-2025-00417  Total 371.64 GBP"]


def _letter_pdf(path, lines):
    import pymupdf

    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    for i, line in enumerate(lines):
        page.insert_text((60, 80 + 30 * i), line, fontsize=12)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path)
    doc.close()


def _run_letter(tmp_path, responder, tasks=("content",)):
    cfg = RenderRunConfig(pdf_dir=tmp_path / "in", run_dir=tmp_path / "run", render=RenderConfig(longest_side=1400))
    with RunStore(cfg.run_dir) as store:
        render_folder(cfg, store, progress=False)
    teacher = make_teacher("gemini", TeacherSettings(base_url=responder.url, timeout_s=10))
    with RunStore(cfg.run_dir) as store, PageSources(cfg, store) as sources:
        summary = label_pages(sources, LabelConfig(tasks=tuple(resolve_tasks(list(tasks))), anchor=True), store,
                              teacher, progress=False)
        labels = list(store.iter_labels())
        audit = list(store.iter_privacy_audit())
    teacher.close()
    return summary, labels, audit


def test_redact_then_restore_end_to_end(tmp_path, monkeypatch):
    """The stub echoes the placeholders it sees: the stored label holds the values, no request body does,
    and the images sent, read back by OCR, show placeholders where the values were."""
    import io
    import json as _json

    import pytesseract
    from PIL import Image

    from tests.label.test_label import CONTENT, METADATA
    from tests.support.provider_stub import echo_placeholders

    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    _letter_pdf(tmp_path / "in" / "letter.pdf", LETTER)
    with ProviderStub(echo_placeholders(CONTENT, METADATA)) as stub:
        summary, labels, audit = _run_letter(tmp_path, stub, tasks=("content", "metadata"))
        bodies = [r.raw.decode() for r in stub.requests]
        images = [r.image_bytes for r in stub.requests]
    assert [l.outcome for l in labels] == ["ok", "ok"] and len(bodies) == 2
    content = next(l for l in labels if l.task == "content")
    assert "roe.jane@gmail.com" in content.label["markdown"] and "+44 7911 123456" in content.label["markdown"]
    secrets = ("roe.jane", "7911 123456", "7911123456")
    assert not any(s in body for body in bodies for s in secrets)
    assert "[EMAIL_1]" in bodies[0] and "[PHONE_1]" in bodies[0]
    assert "info@northwind.example" in bodies[0]           # organisational: allowed by the default
    seen = pytesseract.image_to_string(Image.open(io.BytesIO(images[0])), lang="eng")
    assert not any(s in seen.replace(" ", "") for s in ("roe.jane", "7911123456")) and "EMAIL" in seen
    assert summary.privacy["pages"] == {"redact": 1} and summary.to_dict()["privacy"]["documents"] == {"redact": 1}
    (row,) = audit
    assert row["action"] == "redact" and row["span_count"] == 4 and len(row["masked_boxes"]) >= 2
    assert {(f["kind"], f["class"], f["action"]) for f in row["findings"]} == {
        ("email", "organisational", "allow"), ("phone", "organisational", "allow"),
        ("email", "personal", "redact"), ("phone", "personal", "redact")}
    stored = _json.dumps(audit)
    assert not any(s in stored for s in secrets + ("northwind.example",))


def test_a_teacher_that_drops_a_placeholder_gives_redaction_mismatch(tmp_path, monkeypatch):
    from tests.label.test_label import CONTENT, METADATA
    from tests.support.provider_stub import echo_placeholders

    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    _letter_pdf(tmp_path / "in" / "letter.pdf", LETTER)
    with ProviderStub(echo_placeholders(CONTENT, METADATA, drop=1)) as stub:
        summary, labels, _ = _run_letter(tmp_path, stub)
    (label,) = labels
    assert label.outcome == "redaction_mismatch" and "[EMAIL_1] missing (0 of 1)" in label.detail
    assert "roe.jane" not in label.detail + str(label.label)


def test_a_personal_record_is_blocked_and_a_scan_without_ocr_is_unverified(tmp_path, monkeypatch):
    """National ID: the default blocks the page. An image-only page with OCR made unavailable: unverified."""
    from pipeline.label import gating
    from pipeline.label.privacy.pagewords import PageWords

    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    _letter_pdf(tmp_path / "in" / "form.pdf", ["Applicant form", "National ID: 29001011234567", "x" * 40])
    import pymupdf
    from PIL import Image, ImageDraw

    img = Image.new("L", (600, 800), 255)
    ImageDraw.Draw(img).text((50, 50), "IBAN DE89 3704 0044 0532 0130 00  Tel 0101 234 5678", fill=0)
    img.save(tmp_path / "in" / "scan.png")
    monkeypatch.setattr(PageSources, "privacy_words", lambda self, page, n, langs: (
        PageWords("none"), "unverified: a scan and no OCR to read it (test); install Tesseract")
        if page.text_chars < n else PageSources.__dict__["_real_privacy_words"](self, page, n, langs), raising=True)
    with ProviderStub(valid_answer) as stub:
        summary, labels, audit = _run_letter(tmp_path, stub)
        assert len(stub.requests) == 0
    assert sorted(l.outcome for l in labels) == ["sensitive_blocked", "sensitive_blocked"]
    by_action = {r["source"]: r["findings"][0]["kind"] for r in audit}
    assert "unverified" in by_action.values() and "national_id_eg" in {f["kind"] for r in audit for f in r["findings"]}
    assert any("install Tesseract" in b["detail"] for b in summary.blocked)
    assert gating.SENSITIVE_BLOCKED == "sensitive_blocked"
