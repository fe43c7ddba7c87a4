"""The privacy gate's targets on its labelled evaluation set (bench/privacy.py computes and prints the table)."""

from __future__ import annotations

import pytest

from tests.conftest import CORPUS

IDENTIFIERS = ("card", "dob", "iban", "national_id_eg", "passport", "ssn")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    pytest.importorskip("pytesseract")
    from bench.privacy import run
    from pipeline.teachers import tesseract_version_or_none

    if tesseract_version_or_none() is None:
        pytest.skip("Tesseract is not installed: the scans cannot be read back")
    if not (CORPUS / "receipts" / "box").is_dir():
        pytest.skip(f"the corpus' receipts are not at {CORPUS / 'receipts'}")
    return run(scans=4, tmp=tmp_path_factory.mktemp("privacy"), corpus=CORPUS)


def test_recall_on_planted_identifiers_text_and_scans(bench):
    for where in ("text", "scans"):
        rows = {k: v for k, v in bench[where].items() if k in IDENTIFIERS}
        planted = sum(r["planted"] for r in rows.values())
        found = sum(r["found"] for r in rows.values())
        assert planted >= (15 if where == "text" else 5) and found / planted >= 0.98, (where, rows)


def test_personal_contact_recall_and_default_decisions(bench):
    for kind in ("email", "phone"):
        assert bench["text"][kind]["recall"] >= 0.98
    assert bench["planted_right"] >= bench["planted_total"] - 1
    assert bench["vendor_total"] >= 10 and bench["vendor_sent"] >= 9
