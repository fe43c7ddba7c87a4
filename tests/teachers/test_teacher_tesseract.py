"""The tesseract teacher: real Tesseract 5 on real page images (the samples, generated pages, the corpus'
labelled Arabic page). Skipped with the install command where Tesseract is missing, except in CI."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
import pytest

from pipeline import distill
from pipeline.evaluation.normalize import normalize
from pipeline.evaluation.text import edit_rates
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from pipeline.teachers import PageInput, ReplyStatus, TeacherConfigError, TeacherSettings, make_teacher
from pipeline.teachers.tesseract import engine
from tests.conftest import REPO_ROOT

TASKS = {t.name: t for t in resolve_tasks(["content", "metadata"])}
SAMPLES = REPO_ROOT / "data" / "samples"


@pytest.fixture(scope="module")
def teacher(tesseract):
    t = make_teacher("tesseract", TeacherSettings())
    yield t
    t.close()


def page_png(pdf: Path, index: int = 0, longest: int = 1536) -> bytes:
    with pymupdf.open(pdf) as doc:
        page = doc[index]
        zoom = longest / max(page.rect.width, page.rect.height)
        return page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False).tobytes("png")


def ask(teacher, image: bytes, task: str, doc_id: str = "d"):
    reply = teacher.ask(PageInput(doc_id, 0, image, "image/png"), TASKS[task], prompt="")
    if reply.status is ReplyStatus.COMPLETE:   # every answer a valid label of its task
        assert reply.data == TASKS[task].model.model_validate(reply.data).model_dump(mode="json")
    return reply


def test_identity_flags_and_tasks(teacher, tesseract):
    assert teacher.model == f"tesseract-{tesseract}"
    assert teacher.generation_params() == {"lang": "ara+eng", "psm": 3, "rules": 1}
    assert type(teacher).is_cloud is False and type(teacher).thread_safe is False and not teacher.off_machine
    with pytest.raises(TeacherConfigError, match="only label content and metadata"):
        teacher.check_tasks(resolve_tasks(["receipt"]))


def test_english_invoice_sample(teacher):
    image = page_png(SAMPLES / "invoice_en.pdf")
    content = ask(teacher, image, "content")
    assert content.status is ReplyStatus.COMPLETE
    assert content.data["languages"][0] == "en" and content.data["direction"] == "ltr"
    assert "INVOICE" in content.data["markdown"].upper()
    assert content.detail.startswith("OCR mean word confidence 0.") and "tesseract-" in content.detail
    meta = ask(teacher, image, "metadata")   # the same page: read once, both tasks
    assert meta.status is ReplyStatus.COMPLETE
    assert 0.5 < meta.data["confidence"]["overall"] <= 1 and "OCR" in meta.data["confidence"]["notes"]
    assert meta.data["physical"]["scan_quality"] in ("good", "fair")
    assert meta.data["classification"]["document_type"] == "invoice"   # the textlayer teacher's cues, on OCR text


def test_arabic_letter_reads_right_to_left(teacher):
    content = ask(teacher, page_png(SAMPLES / "letter_ar.pdf"), "content")
    assert content.status is ReplyStatus.COMPLETE
    assert content.data["languages"][0] == "ar" and content.data["direction"] in ("rtl", "mixed")
    textlayer = make_teacher("textlayer", TeacherSettings(ocr_fallback="never"))   # what the PDF itself says
    truth = textlayer.ask(PageInput("t", 0, b"", "image/png", source=SAMPLES / "letter_ar.pdf"), TASKS["content"], "")
    textlayer.close()
    words = [w for w in truth.data["markdown"].split() if len(w) >= 5 and w.isalpha()][:20]
    assert len(words) >= 10
    found = [w for w in words if normalize(w, "arabic") in normalize(content.data["markdown"], "arabic")]
    assert len(found) >= 0.7 * len(words), (words, content.data["markdown"][:300])
    assert content.data["markdown"].startswith("شركة الواحة")   # the letterhead, right to left: first


def test_a_table_in_the_word_layout(teacher, tmp_path):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 80), "Stock count, March", fontsize=16)
    rows = [("Item", "Qty", "Price"), ("Apples", "12", "3.50"), ("Pears", "7", "2.25"), ("Plums", "30", "9.00"),
            ("Figs", "4", "6.75")]
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            page.insert_text((72 + 170 * c, 140 + 28 * r), cell, fontsize=13)
    doc.save(tmp_path / "table.pdf")
    content = ask(teacher, page_png(tmp_path / "table.pdf"), "content")
    assert content.status is ReplyStatus.COMPLETE and content.data["has_tables"] is True
    assert any(e["kind"] == "table" for e in content.data["elements"])
    md = content.data["markdown"]
    assert "| Item | Qty | Price |" in md and "| Pears | 7 | 2.25 |" in md, md


def test_blank_page_is_no_text(teacher):
    doc = pymupdf.open()
    doc.new_page()
    blank = doc[0].get_pixmap(alpha=False).tobytes("png")
    reply = ask(teacher, blank, "content", doc_id="blank")
    assert reply.status is ReplyStatus.NO_TEXT_LAYER and "OCR found no text" in reply.detail


def test_missing_language_and_missing_program_fail_before_any_work(tesseract, monkeypatch):
    with pytest.raises(TeacherConfigError, match="apt-get install tesseract-ocr-xyz"):
        make_teacher("tesseract", TeacherSettings(ocr_lang="ara+xyz"))
    with pytest.raises(TeacherConfigError, match="not a list of Tesseract languages"):
        make_teacher("tesseract", TeacherSettings(ocr_lang="ara eng"))
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    engine._installed.cache_clear()
    try:
        with pytest.raises(TeacherConfigError, match="apt-get install tesseract-ocr tesseract-ocr-ara"):
            make_teacher("tesseract", TeacherSettings())
    finally:
        engine._installed.cache_clear()


def test_craneset_arabic_page_cer(teacher, arabic_corpus, tmp_path):
    """The corpus' labelled Arabic page, rendered as the student sees it, then OCR'd."""
    sample = arabic_corpus / "craneset_sample"
    assert distill.main([str(sample), "--out", str(tmp_path / "run"), "--render-only", "--no-progress"]) == 0
    with RunStore(tmp_path / "run") as store:
        page = next(store.iter_pages())
    content = ask(teacher, (tmp_path / "run" / page.image_path).read_bytes(), "content")
    assert content.status is ReplyStatus.COMPLETE and content.data["direction"] == "rtl"
    reference = next(sample.glob("*.txt")).read_text(encoding="utf-8")
    cer = {level: edit_rates(normalize(content.data["markdown"], level), normalize(reference, level))[0]
           for level in ("basic", "arabic")}
    print(f"\ncraneset_sample CER: {cer}")
    assert cer["arabic"] <= cer["basic"] < 0.25


def test_distill_with_the_tesseract_teacher_keeps_the_confidence(tesseract, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "invoice.png").write_bytes(page_png(SAMPLES / "invoice_en.pdf", longest=1200))
    assert distill.main([str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--teacher", "tesseract",
                         "--no-progress"]) == 0
    with RunStore(tmp_path / "run") as store:
        labels = list(store.iter_labels())
    assert {(x.task, x.outcome) for x in labels} == {("content", "ok"), ("metadata", "ok")}
    assert all(x.detail.startswith("OCR mean word confidence") and x.teacher == "tesseract" for x in labels)
    assert json.loads(json.dumps(labels[0].label))["markdown"]
