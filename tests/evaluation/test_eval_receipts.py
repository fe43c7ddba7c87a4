"""Metrics on the 60 SROIE receipts (../shared/corpus/receipts): human key JSON as references,
predictions made by controlled perturbations; each metric moves by the amount the perturbation predicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import CORPUS
from pipeline.evaluation import aggregate, score_item
from pipeline.evaluation.text import normalise

RECEIPTS = CORPUS / "receipts"


def _ocr_text(box_csv: Path) -> str:
    """The receipt's OCR lines (box/<id>.csv: 8 coordinates, then the text, which may hold commas)."""
    lines = box_csv.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(line.split(",", 8)[8] for line in lines if line.count(",") >= 8)


@pytest.fixture(scope="module")
def receipts() -> list[tuple[str, dict, str]]:
    if not (RECEIPTS / "SOURCES.json").is_file():
        pytest.skip(f"SROIE receipts not found at {RECEIPTS} (they sit in ../shared/corpus beside the repo in CI; "
                    "set DOCDISTILL_SHARED to use another location)")
    out = []
    for key in sorted((RECEIPTS / "key").glob("*.json")):
        reference = json.loads(key.read_text(encoding="utf-8"))
        out.append((key.stem, reference, _ocr_text(RECEIPTS / "box" / f"{key.stem}.csv")))
    assert len(out) == 60
    return out


def _flip_last_digit(text: str) -> str:
    i = max(i for i, ch in enumerate(text) if ch.isdigit())
    return text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1:]


def _misspell(name: str) -> str:
    """Change one letter in the middle (a substitution keeps the length: one edit)."""
    i = next(i for i in range(len(name) // 2, len(name)) if name[i].isalpha())
    return name[:i] + ("X" if name[i].upper() != "X" else "Y") + name[i + 1:]


def test_identical_predictions_score_one(receipts):
    scores = [score_item(i, json.dumps(ref), ref) for i, ref, _ in receipts]
    summary = aggregate(scores)
    assert summary["metrics"] == {"anls_star": 1.0, "exact": 1.0}
    assert set(summary["fields"].values()) == {1.0} and summary["failures"] == {}
    assert summary["contract"]["strict_json_rate"] == 1.0 and summary["contract"]["exact_key_set_rate"] == 1.0


def test_dropped_field_costs_one_of_four(receipts):
    scores = [score_item(i, json.dumps({k: v for k, v in ref.items() if k != "address"}), ref)
              for i, ref, _ in receipts]
    summary = aggregate(scores)
    assert summary["metrics"]["anls_star"] == pytest.approx(0.75)
    assert summary["fields"] == {"company": 1.0, "date": 1.0, "address": 0.0, "total": 1.0}
    assert summary["failures"] == {"omitted_fields": 60} and summary["contract"]["exact_key_set_rate"] == 0.0


def test_flipped_total_digit_is_a_wrong_amount_and_tagged(receipts):
    with_total = [(i, ref) for i, ref, _ in receipts if any(c.isdigit() for c in ref["total"])]
    assert len(with_total) >= 55   # SROIE 033 has an empty total: nothing to flip there
    scores = [score_item(i, json.dumps({**ref, "total": _flip_last_digit(ref["total"])}), ref) for i, ref in with_total]
    summary = aggregate(scores)
    assert summary["fields"]["total"] == 0.0 and summary["metrics"]["anls_star"] == pytest.approx(0.75)
    flippable = sum(1 for _, ref in with_total if sum(c.isdigit() for c in ref["total"]) >= 2)
    assert summary["failures"] == {"digit_flip": flippable}


def test_misspelt_company_costs_one_edit(receipts):
    for item_id, ref, _ in receipts:
        s = score_item(item_id, json.dumps({**ref, "company": _misspell(ref["company"])}), ref)
        expected = 1 - 1 / len(normalise(ref["company"]))
        assert s.fields["company"] == pytest.approx(expected), item_id
        assert s.metrics["anls_star"] == pytest.approx((3 + expected) / 4)
        assert s.failures == []


def test_added_key_is_hallucinated(receipts):
    scores = [score_item(i, json.dumps({**ref, "phone": "03-1234 5678"}), ref) for i, ref, _ in receipts]
    summary = aggregate(scores)
    assert summary["metrics"]["anls_star"] == pytest.approx(4 / 5)       # union of 5 keys, 4 right
    assert set(summary["fields"].values()) == {1.0}                       # reference fields are all right
    assert summary["failures"] == {"hallucinated_keys": 60}


def test_markdown_cer_counts_deleted_characters(receipts):
    for item_id, ref, ocr in receipts[:20]:
        reference = {"markdown": ocr}
        cut = ocr[:len(ocr) // 2] + ocr[len(ocr) // 2 + 10:]               # 10 characters deleted
        s = score_item(item_id, json.dumps({"markdown": cut}), reference, page_text=ocr)
        assert s.metrics["cer"] == pytest.approx(10 / len(ocr))
        assert s.metrics["ned"] == pytest.approx(10 / len(ocr))
        assert score_item(item_id, json.dumps(reference), reference, page_text=ocr).metrics["cer"] == 0.0
