"""Arabic-aware scoring (--normalize) and traditional OCR as a system (--system ocr=tesseract)."""

from __future__ import annotations

import json

import pymupdf
import pytest

from pipeline import distill, evaluate
from pipeline.evaluation.normalize import DEFAULT_NORMALIZATION, normalize
from pipeline.evaluation.score import score_item
from pipeline.evaluation.systems import parse_system
from pipeline.store import RunStore
from tests.conftest import REPO_ROOT

SAMPLES = REPO_ROOT / "data" / "samples"


def content(markdown: str) -> dict:
    return {"languages": ["ar"], "direction": "rtl", "page_number": None, "has_tables": False,
            "has_handwriting": False, "elements": [], "markdown": markdown}


def test_arabic_normalisation_changes_arabic_cer_and_leaves_english_cer_unchanged():
    # The same words, as OCR and a teacher commonly differ: harakat, hamza on alef, teh marbuta, digits, tatweel.
    reference = "قَالَ أحمد إنّ المدرسة فتحت أبوابها سنة ٢٠٢٤ للطـلاب"
    prediction = "قال احمد ان المدرسه فتحت ابوابها سنة 2024 للطلاب"
    arabic = score_item("ar", json.dumps(content(prediction)), content(reference), normalization="arabic").metrics
    assert arabic["cer"] > 0.2 and arabic["cer@arabic"] == 0.0 and arabic["wer@arabic"] == 0.0
    assert arabic["anls_star@arabic"] > arabic["anls_star"]
    basic = score_item("ar", json.dumps(content(prediction)), content(reference), normalization="basic").metrics
    assert arabic["cer"] > basic["cer@basic"] > arabic["cer@arabic"]   # digits and tatweel only
    english_ref = "Invoice No. 2024-17 issued to Northwind Ltd, total due 1,250.00 EUR by 31 March."
    english_pred = "Invoice No. 2024-71 issued to Northwind Ltd., total due 1,250.00 EUR by 31 March"
    for level in ("basic", "arabic"):
        m = score_item("en", json.dumps(content(english_pred)), content(english_ref), normalization=level).metrics
        assert m[f"cer@{level}"] == m["cer"] > 0 and m[f"ned@{level}"] == m["ned"]
        assert m[f"anls_star@{level}"] == m["anls_star"]
    none = score_item("en", json.dumps(content(english_pred)), content(english_ref)).metrics
    assert set(none) == {"anls_star", "exact", "cer", "ned"}      # --normalize none: the raw scores alone


def test_system_syntax_for_ocr():
    assert (parse_system("ocr=tesseract").kind, parse_system("ocr=tesseract").target) == ("teacher", "tesseract")
    assert parse_system("ocr=tesseract:ara").detail == "ara"
    assert DEFAULT_NORMALIZATION == "arabic"


@pytest.fixture(scope="module")
def labelled_samples(tmp_path_factory, tesseract):
    """The English invoice and the Arabic letter, rendered and labelled by the textlayer teacher."""
    root = tmp_path_factory.mktemp("samples")
    assert distill.main([str(SAMPLES), "--out", str(root / "run"), "--include", "invoice_en.pdf",
                         "--include", "letter_ar.pdf", "--task", "content", "--no-progress"]) == 0
    with RunStore(root / "run") as store:
        images = {(p.doc_id, p.page_index): p.image_path for p in store.iter_pages()}
        labels = [(images[(x.doc_id, x.page_index)], x.label) for x in store.iter_labels(task="content")]
    return root, labels


def test_evaluate_shows_student_teacher_and_ocr_side_by_side(labelled_samples, tmp_path, capsys):
    root, labels = labelled_samples
    refs = tmp_path / "human.jsonl"
    refs.write_text("\n".join(json.dumps({"image": str(root / "run" / image), "task": "content", "reference": label},
                                         ensure_ascii=False) for image, label in labels) + "\n", encoding="utf-8")
    # A student that writes Arabic with harakat and Arabic-Indic digits, English word for word.
    student = []
    for _, label in labels:
        guess = dict(label, markdown=label["markdown"].replace("ا", "اَ").replace("4", "٤"))
        student.append({"prompt": "x", "predict": json.dumps(guess, ensure_ascii=False),
                        "label": json.dumps(label, ensure_ascii=False)})
    predictions = tmp_path / "generated_predictions.jsonl"
    predictions.write_text("\n".join(json.dumps(s, ensure_ascii=False) for s in student) + "\n", encoding="utf-8")
    code = evaluate.main(["--references", str(refs), "--predictions", str(predictions),
                          "--system", f"teacher=run:{root / 'run'}", "--system", "ocr=tesseract",
                          "--out", str(tmp_path / "eval"), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert set(result["systems"]) == {"student", "teacher", "ocr"} and result["items"] == len(labels) == 2
    assert result["normalization"]["level"] == "arabic" and "remove_harakat" in result["normalization"]["rules"]
    assert result["ocr"]["ocr"]["answered"] == 2 and result["ocr"]["ocr"]["engine"].startswith("tesseract-")
    metrics = {name: s["metrics"] for name, s in result["systems"].items()}
    assert metrics["teacher"]["cer"] == 0.0                      # the references are its labels
    assert metrics["student"]["cer"] > 0 and metrics["student"]["cer@arabic"] == 0.0
    assert 0 < metrics["ocr"]["cer@arabic"] < 0.6 and metrics["ocr"]["cer@arabic"] <= metrics["ocr"]["cer"]
    report = (tmp_path / "eval" / "report.md").read_text(encoding="utf-8")
    table = [line for line in report.splitlines() if line.startswith("| ")]
    assert "cer@arabic" in table[0] and {row.split(" | ")[0] for row in table[1:]} >= {"| student", "| teacher", "| ocr"}
    assert "Text normalisation: arabic" in report and "OCR ocr (tesseract-" in report
    saved = json.loads((tmp_path / "eval" / "results.json").read_text(encoding="utf-8"))
    assert {"cer", "cer@arabic"} <= set(saved["systems"]["ocr"]["metrics"])   # with and without, both kept


def test_ocr_system_without_tesseract_is_a_configuration_error(tmp_path, capsys, monkeypatch):
    import pytesseract

    from pipeline.teachers.tesseract import engine

    refs = tmp_path / "refs.jsonl"
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Hello")
    (tmp_path / "p.png").write_bytes(doc[0].get_pixmap().tobytes("png"))
    refs.write_text(json.dumps({"image": str(tmp_path / "p.png"), "task": "content", "reference": content("Hello")}))
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    engine._installed.cache_clear()
    try:
        code = evaluate.main(["--references", str(refs), "--system", "ocr=tesseract", "--out", str(tmp_path / "e")])
    finally:
        engine._installed.cache_clear()
    assert code == 2 and "apt-get install tesseract-ocr" in capsys.readouterr().err
    assert normalize("x", "none") == "x"
