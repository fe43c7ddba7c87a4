"""Redacted pages after the label stage: the masked image sent is kept in the run folder, build_dataset
trains redaction_mismatch pages on it only when asked (--train-redacted-mismatches), and merge carries
the privacy audit and the redacted images."""

from __future__ import annotations

import hashlib
import json

from pipeline.dataset.build import DatasetConfig, write_dataset
from pipeline.merge import merge_runs
from pipeline.store import RunStore
from tests.label.test_label import CONTENT, KEY, METADATA
from tests.label.test_privacy import LETTER, _letter_pdf, _run_letter
from tests.support.provider_stub import ProviderStub, echo_placeholders


def _mismatch_run(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    _letter_pdf(tmp_path / "in" / "letter.pdf", LETTER)
    with ProviderStub(echo_placeholders(CONTENT, METADATA, drop=1)) as stub:
        _, labels, audit = _run_letter(tmp_path, stub)
        sent = [r.image_bytes for r in stub.requests]
    return tmp_path / "run", labels, audit, sent


def _records(out_dir):
    return [r for f in sorted(out_dir.glob("*_train.json")) if f.name.count("_") == 1 for r in json.loads(f.read_text())]


def test_the_redacted_image_sent_is_kept_by_content_and_trained_on_only_when_asked(tmp_path, monkeypatch):
    run, labels, audit, sent = _mismatch_run(tmp_path, monkeypatch)
    (label,), (row,) = labels, audit
    assert label.outcome == "redaction_mismatch" and len(sent) == 1
    kept = run / row["redacted_image"]
    assert row["redacted_image"].startswith("redacted/") and kept.read_bytes() == sent[0]      # the very bytes sent
    assert kept.stem == hashlib.sha256(sent[0]).hexdigest()

    with RunStore(run, read_only=True) as store:
        default = write_dataset(DatasetConfig(run_dir=run, out_dir=tmp_path / "ds", val_fraction=0.0), store)
        opted = write_dataset(DatasetConfig(run_dir=run, out_dir=tmp_path / "ds2", val_fraction=0.0,
                                            train_redacted_mismatches=True), store)
    assert default["dropped"] == {"outcome_redaction_mismatch": 1} and "train" not in default["splits"]
    (record,) = _records(tmp_path / "ds2")
    assert (tmp_path / "ds2" / record["images"][0]).read_bytes() == sent[0]       # the redacted image, not the page
    answer = record["conversations"][1]["value"]
    assert "[PHONE_1]" in answer and "roe.jane" not in answer and "7911" not in answer
    (teacher, n), = opted["teachers"].items()
    assert n == 1 and teacher.endswith(" (redacted image, placeholders)")


def test_merge_carries_the_privacy_audit_and_the_redacted_images(tmp_path, monkeypatch):
    run, _, audit, sent = _mismatch_run(tmp_path, monkeypatch)
    merged = tmp_path / "merged"
    summary = merge_runs([run], merged)
    assert summary.changed["privacy_pages"] == 1
    with RunStore(merged, read_only=True) as store:
        (row,) = list(store.iter_privacy_audit())
        assert store.redacted_images() == {(row["doc_id"], row["page_index"]): audit[0]["redacted_image"]}
    assert {k: row[k] for k in ("action", "findings", "masked_boxes", "redacted_image")} == \
        {k: audit[0][k] for k in ("action", "findings", "masked_boxes", "redacted_image")}
    assert (merged / row["redacted_image"]).read_bytes() == sent[0]
    again = merge_runs([run], merged)                        # merging again changes nothing
    assert again.changed["privacy_pages"] == 0
    with RunStore(merged, read_only=True) as store:
        write_dataset(DatasetConfig(run_dir=merged, out_dir=tmp_path / "ds", val_fraction=0.0,
                                    train_redacted_mismatches=True), store)
    assert len(_records(tmp_path / "ds")) == 1


def test_merge_keeps_the_newest_privacy_decision_per_page(tmp_path, monkeypatch):
    run, _, audit, _ = _mismatch_run(tmp_path, monkeypatch)
    older = tmp_path / "older"
    merge_runs([run], older)
    with RunStore(older) as store, store.transaction():
        store.put_privacy_audit({**audit[0], "action": "block", "findings": [], "masked_boxes": [],
                                 "redacted_image": "", "detail": "an older policy"})
    merged = tmp_path / "merged"
    merge_runs([run], merged)
    merge_runs([older], merged)                   # the newer decision (written later) wins, whatever the order
    with RunStore(merged, read_only=True) as store:
        assert [r["detail"] for r in store.iter_privacy_audit()] == ["an older policy"]
    merge_runs([run], merged)
    with RunStore(merged, read_only=True) as store:
        assert [r["detail"] for r in store.iter_privacy_audit()] == ["an older policy"]
