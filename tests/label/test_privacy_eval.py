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
    return run(scans=12, tmp=tmp_path_factory.mktemp("privacy"), corpus=CORPUS)


def test_recall_on_planted_identifiers_text_and_scans(bench):
    """Text layer and scans alike: every planted identifier found, Arabic-Indic national IDs included (on
    scans read by the gate's digit reader, pipeline/label/privacy/digits.py, where Tesseract's ara model
    reads junk), and none left on a page that is sent unmasked."""
    for where in ("text", "scans"):
        rows = {k: v for k, v in bench[where].items() if k in IDENTIFIERS}
        planted = sum(r["planted"] for r in rows.values())
        found = sum(r["found"] for r in rows.values())
        assert planted == 18 and found / planted >= 0.98, (where, rows)
        assert rows["national_id_eg"]["found"] == 3, (where, rows)
        assert sum(r["kept_back"] for r in rows.values()) == planted, (where, rows)
    arabic = [d for d in bench["decisions"] if d["set"] == "planted-scan" and d["doc"] in
              ("planted_03 (scan)", "planted_07 (scan)", "planted_11 (scan)")]
    assert len(arabic) == 3 and all(d["decision"].split()[0] == "block" for d in arabic), arabic
    assert bench["reread_boxes"] <= 12 * 24                   # bounded: MAX_REREADS a page


def test_personal_contact_recall_and_default_decisions(bench):
    for kind in ("email", "phone"):
        assert bench["text"][kind]["recall"] >= 0.98
    assert bench["scans"]["phone"]["recall"] >= 0.98       # Arabic-Indic mobiles included (read again)
    assert bench["planted_right"] >= bench["planted_total"] - 1
    assert bench["vendor_total"] >= 10 and bench["vendor_sent"] >= 9
