"""The manual-labelling queue takes every page the privacy gate kept from the teacher: blocked (a stored
``sensitive_blocked`` label, or no label at all), unverified scans, and redaction mismatches, each with
the gate's decision in words (kinds, never values)."""

from __future__ import annotations

import time

from pipeline.records import LabelRecord, PageStatus
from pipeline.render.config import RenderConfig, RenderRunConfig
from pipeline.render.stage import render_folder
from pipeline.review.queues import build_queues
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from tests.conftest import make_pdf
from tests.support.review_fixtures import content_label, make_review_run


def _audit(page, action: str, findings: list[tuple[str, str, str]], detail: str = "") -> dict:
    return {"doc_id": page.doc_id, "page_index": page.page_index, "image_sha256": page.image_sha256, "policy": "p",
            "source": "ocr", "action": action, "span_count": len(findings), "masked_boxes": [], "detail": detail,
            "findings": [{"kind": k, "class": c, "action": a, "spans": 1} for k, c, a in findings]}


def test_pages_the_gate_held_back_and_redaction_mismatches_are_in_the_manual_queue(tmp_path):
    run, pdfs = make_review_run(tmp_path)
    make_pdf(pdfs / "e.pdf", pages=1, text="Applicant form")           # blocked, and no label stored for it
    make_pdf(pdfs / "f.pdf", pages=1, text="Letter to a customer")     # redacted, allowed through
    with RunStore(run) as store:
        render_folder(RenderRunConfig(pdf_dir=pdfs, run_dir=run, render=RenderConfig(longest_side=400)), store,
                      progress=False)
        pages = {store.get_document(p.doc_id)["path"]: p for p in store.iter_pages(PageStatus.RENDERED)
                 if p.page_index == 0}
        (task,) = resolve_tasks(["content"])
        store.ensure_privacy_tables()
        with store.transaction():
            store.put_privacy_audit(_audit(pages["b.pdf"], "block", [("unverified", "unverified", "block")],
                                           "unverified: OCR read too little of this scan"))
            store.put_privacy_audit(_audit(pages["e.pdf"], "block", [("national_id_eg", "identifier", "block"),
                                                                     ("email", "personal", "redact")]))
            store.put_privacy_audit(_audit(pages["c.pdf"], "redact", [("email", "personal", "redact")]))
            store.put_privacy_audit(_audit(pages["f.pdf"], "redact", [("email", "personal", "redact")]))
            c = pages["c.pdf"]               # its invalid answer, then a redacted resend that lost a placeholder
            store.put_label(LabelRecord("key-c-2", c.doc_id, 0, "content", "stub", "m", task.prompt_hash,
                                        task.schema_hash, "redaction_mismatch", label=content_label("# Ledger"),
                                        detail="[EMAIL_1] missing (0 of 1)", created_at=time.time() + 5))
            f = pages["f.pdf"]
            store.put_label(LabelRecord("key-f", f.doc_id, 0, "content", "stub", "m", task.prompt_hash,
                                        task.schema_hash, "ok", label=content_label("# Letter"), created_at=time.time()))
        docs = {p.doc_id: name for name, p in pages.items()}
        rows = build_queues(store, lambda teacher: False, sample_size=0)
    manual = {docs[r[2]]: r[6] for r in rows if r[0] == "manual"}
    assert set(manual) == {"b.pdf", "c.pdf", "e.pdf"}
    assert manual["b.pdf"] == "held back by the privacy gate (block: unverified)"
    assert manual["e.pdf"] == "held back by the privacy gate (block: national_id_eg (identifier)), never sent"
    assert manual["c.pdf"].startswith("redacted, placeholders did not come back ([EMAIL_1] missing (0 of 1))")
    assert "--train-redacted-mismatches" in manual["c.pdf"]
    assert not [r for r in rows if r[0] != "manual" and docs.get(r[2]) in ("b.pdf", "c.pdf", "e.pdf")]
