"""The offline textlayer teacher: tiny PDFs made inline, then the third-party corpus when it is present."""

from __future__ import annotations

import time
import unicodedata
from pathlib import Path

import pymupdf
import pytest

from pipeline.render.pdfio import PdfOpenError, open_pdf
from pipeline.schemas.content import ContentLabel
from pipeline.tasks import Task, resolve_tasks
from pipeline.teachers import PageInput, ReplyStatus, TeacherConfigError, TeacherSettings, make_teacher

TASKS = {t.name: t for t in resolve_tasks(["content", "metadata"])}


@pytest.fixture
def teacher():
    # The text layer alone: the OCR fallback for pages without one has its own tests (test_ocr_fallback.py).
    t = make_teacher("textlayer", TeacherSettings(ocr_fallback="never"))
    yield t
    t.close()


def page_input(path: Path, index: int = 0, doc_id: str = "x", passwords: tuple[str, ...] = ()) -> PageInput:
    with pymupdf.open(path) as doc:
        if doc.needs_pass:
            doc.authenticate(passwords[0])
        meta = doc.metadata
    return PageInput(doc_id=doc_id, page_index=index, image=b"", mime_type="image/jpeg", source=path,
                     passwords=passwords, pdf_metadata=meta)


def ask(teacher, page: PageInput, task: str):
    reply = teacher.ask(page, TASKS[task], prompt="")
    if reply.status is ReplyStatus.COMPLETE:  # every answer must be a valid label of its task
        assert reply.data == TASKS[task].model.model_validate(reply.data).model_dump(mode="json")
        assert reply.finish_reason == "STOP" and reply.tokens_in == reply.tokens_out == 0
    return reply


def make_invoice(path: Path) -> Path:
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_text((50, 70), "ACME Trading Ltd", fontsize=20, fontname="hebo")
    page.insert_text((50, 120), "INVOICE", fontsize=24, fontname="hebo")
    page.insert_text((330, 110), "Invoice No: INV-2025-0042", fontsize=10)
    page.insert_text((330, 126), "Date: 12/03/2025", fontsize=10)
    page.insert_text((330, 142), "Due date: 2025-04-11", fontsize=10)
    page.insert_text((50, 180), "Bill to:", fontsize=10, fontname="hebo")
    page.insert_text((50, 195), "Globex Corporation", fontsize=10)
    page.insert_text((50, 230), "Thank you for your order. Please pay within thirty days of the invoice date.",
                     fontsize=10)
    # A ruled table: three rows, three columns, drawn with lines like most invoice generators do.
    xs, ys = [50, 300, 420, 545], [260, 282, 304, 326]
    for y in ys:
        page.draw_line((xs[0], y), (xs[-1], y), width=0.6)
    for x in xs:
        page.draw_line((x, ys[0]), (x, ys[-1]), width=0.6)
    rows = [("Item", "Qty", "Amount"), ("Widget", "2", "20.00"), ("Gadget", "1", "15.50")]
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            page.insert_text((xs[c] + 5, ys[r] + 15), text, fontsize=10)
    page.insert_text((420, 350), "Total: 35.50", fontsize=11, fontname="hebo")
    page.insert_text((280, 815), "Page 1 of 1", fontsize=8)
    doc.set_metadata({"title": "Invoice INV-2025-0042", "author": "billing-bot", "creationDate": "D:20250312000000Z"})
    doc.save(path)
    doc.close()
    return path


ARABIC_HTML = ('<div dir="rtl"><h1>فاتورة رقم 17</h1><p>السيد أحمد المحترم، نرجو سداد مبلغ 1500 دينار قبل تاريخ '
               '12/03/2025 (مع الشكر).</p><p>المادة الأولى: لا يجوز التأخير.</p></div>')


def make_arabic(path: Path) -> Path:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_htmlbox(pymupdf.Rect(50, 50, 545, 400), ARABIC_HTML)  # MuPDF Story: HarfBuzz, Noto Naskh Arabic
    doc.save(path)
    doc.close()
    return path


def make_scan(path: Path) -> Path:
    doc = pymupdf.open()
    page = doc.new_page()
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 120, 160), False)
    pix.set_rect(pix.irect, (200, 190, 170))
    page.insert_image(page.rect, pixmap=pix)
    doc.save(path)
    doc.close()
    return path


# ---------------------------------------------------------------------------------------------
# Tiny inline PDFs
# ---------------------------------------------------------------------------------------------

def test_identity_and_task_check(teacher):
    assert (teacher.name, teacher.model, teacher.api_key_env, teacher.is_cloud) == \
        ("textlayer", "pymupdf-textlayer-1", (), False)
    teacher.check_tasks(list(TASKS.values()))
    custom = Task(name="receipt", model=ContentLabel, teacher_template="", student_prompt="")
    with pytest.raises(TeacherConfigError, match="only label content and metadata; use an API teacher for task rece"):
        teacher.check_tasks([TASKS["content"], custom])


def test_invoice_content(teacher, tmp_path):
    reply = ask(teacher, page_input(make_invoice(tmp_path / "invoice.pdf")), "content")
    assert reply.status is ReplyStatus.COMPLETE
    data = reply.data
    md = data["markdown"]
    assert "INV-2025-0042" in md and "Total: 35.50" in md and "Globex Corporation" in md
    assert "| Item | Qty | Amount |" in md and "| Widget | 2 | 20.00 |" in md
    assert md.count("Widget") == 1  # table text is not repeated in the paragraph flow
    assert data["has_tables"] is True and data["has_handwriting"] is False
    assert data["languages"] == ["en"] and data["direction"] == "ltr"
    assert data["page_number"] == "1"
    kinds = [e["kind"] for e in data["elements"]]
    assert "table" in kinds and "heading" in kinds and "page_number" in kinds
    assert {"kind": "heading", "text": "INVOICE", "level": 1} in data["elements"]
    assert md.index("INVOICE") < md.index("| Item") < md.index("Total: 35.50")  # reading order


def test_invoice_metadata(teacher, tmp_path):
    reply = ask(teacher, page_input(make_invoice(tmp_path / "invoice.pdf")), "metadata")
    assert reply.status is ReplyStatus.COMPLETE
    data = reply.data
    assert data["classification"]["document_type"] == "invoice"
    assert data["classification"]["category"] == "financial"
    assert data["classification"]["title"] == "INVOICE"  # the info-dict title is not printed on the page
    assert "INV-2025-0042" in data["routing"]["reference_numbers"]
    dates = {(d["kind"], d["value"]) for d in data["dates"]}
    assert ("due", "2025-04-11") in dates and ("issue", "2025-03-12") in dates
    assert "2025-03-12" in {d["value"] for d in data["dates"] if d["as_printed"] == "12/03/2025"}
    assert data["source"]["issuer"] == "ACME Trading Ltd"
    assert data["source"]["recipient"] == "Globex Corporation"
    assert data["source"]["author"] is None  # "billing-bot" is in the info dictionary, not on the page
    assert data["physical"] == {"orientation": "portrait", "scan_quality": "born_digital",
                                "color": "black_and_white", "handwriting": "none"}
    assert data["confidence"]["overall"] == 0.5


def test_arabic_page(teacher, tmp_path):
    page = page_input(make_arabic(tmp_path / "arabic.pdf"))
    reply = ask(teacher, page, "content")
    assert reply.status is ReplyStatus.COMPLETE
    data = reply.data
    assert data["direction"] == "rtl" and data["languages"][0] == "ar"
    md = data["markdown"]
    # Base letters (no presentation forms), in logical order, numbers and brackets where they belong.
    assert not any(0xFB50 <= ord(c) <= 0xFDFF or 0xFE70 <= ord(c) <= 0xFEFF for c in md)
    assert md == unicodedata.normalize("NFKC", md)
    assert "# فاتورة رقم 17" in md
    # "ال" and "لا" come from glyphs MuPDF writes without a ToUnicode entry: repaired from glyph names.
    assert "السيد أحمد المحترم، نرجو سداد مبلغ 1500 دينار قبل تاريخ 12/03/2025 (مع الشكر)." in md
    assert "المادة الأولى: لا يجوز التأخير." in md
    meta = ask(teacher, page, "metadata")
    assert meta.status is ReplyStatus.COMPLETE
    assert meta.data["classification"]["document_type"] == "invoice"
    assert ("due", "2025-03-12") in {(d["kind"], d["value"]) for d in meta.data["dates"]}


def test_image_only_page_has_no_text_layer(teacher, tmp_path):
    page = page_input(make_scan(tmp_path / "scan.pdf"))
    for task in TASKS:
        reply = ask(teacher, page, task)
        assert reply.status is ReplyStatus.NO_TEXT_LAYER
        assert "no text layer" in reply.detail and "API teacher" in reply.detail
        assert reply.data is None


def test_form_marks_checkboxes_stamp_and_signature(teacher, tmp_path):
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((50, 60), "Northwind Bank", fontsize=18, fontname="hebo")
    page.insert_text((50, 120), "Account type", fontsize=10)
    for k, (label, ticked) in enumerate([("Current", True), ("Savings", False)]):
        box = pymupdf.Rect(160 + 100 * k, 110, 172 + 100 * k, 122)
        page.draw_rect(box, width=0.8)
        page.insert_text((box.x1 + 6, 120), label, fontsize=10)
        if ticked:
            page.draw_polyline([box.tl + (2, 6), box.tl + (5, 10), box.tr + (2, -3)], width=1.5)
    page.draw_line((50, 300), (250, 300), width=0.8)
    page.insert_text((50, 314), "Signature of applicant", fontsize=9)
    shape = page.new_shape()  # ink: a run of Bezier loops above the line
    for i in range(8):
        x = 70 + 12 * i
        shape.draw_bezier((x, 296), (x + 3, 270), (x + 9, 270), (x + 12, 296))
    shape.finish(color=(0.1, 0.2, 0.65), width=1.2, closePath=False)
    shape.commit()
    page.draw_rect(pymupdf.Rect(350, 400, 480, 450), color=(0.8, 0.1, 0.1), width=2)
    page.insert_text((365, 430), "APPROVED", fontsize=14, fontname="hebo", color=(0.8, 0.1, 0.1))
    doc.save(tmp_path / "form.pdf")
    doc.close()
    page_in = page_input(tmp_path / "form.pdf")
    content = ask(teacher, page_in, "content").data
    assert "Account type [x] Current [ ] Savings" in content["markdown"]
    assert "[stamp: APPROVED]" in content["markdown"] and "[signature]" in content["markdown"]
    assert content["has_handwriting"] is True
    assert {"stamp", "signature", "checkbox"} <= {e["kind"] for e in content["elements"]}
    meta = ask(teacher, page_in, "metadata").data
    assert meta["signatures"] == [{"signer": None, "role": "applicant", "signed": True, "date": None}]
    assert {"kind": "stamp", "text": "APPROVED", "color": "red"} in meta["official_marks"]
    assert meta["physical"]["handwriting"] == "some" and meta["physical"]["color"] == "color"


def test_document_cache_and_failures(teacher, tmp_path):
    a, b = make_invoice(tmp_path / "a.pdf"), make_arabic(tmp_path / "b.pdf")
    assert ask(teacher, page_input(a, doc_id="a"), "content").status is ReplyStatus.COMPLETE
    first = teacher._doc
    assert ask(teacher, page_input(a, doc_id="a"), "metadata").status is ReplyStatus.COMPLETE
    assert teacher._doc is first  # same document: kept open
    assert ask(teacher, page_input(b, doc_id="b"), "content").status is ReplyStatus.COMPLETE
    assert first.is_closed and teacher._doc is not first  # another document: the previous one is closed
    # Per-page failures come back as replies, never as exceptions.
    out_of_range = ask(teacher, page_input(a, index=5, doc_id="a"), "content")
    assert out_of_range.status is ReplyStatus.UNREADABLE_PAGE and "out of range" in out_of_range.detail
    # A PDF moved away or no longer opening is the folder's state, not the page's: a rerun tries again.
    no_source = PageInput(doc_id="c", page_index=0, image=b"", mime_type="image/jpeg")
    assert ask(teacher, no_source, "metadata").status is ReplyStatus.SERVER_ERROR
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"not a pdf at all")
    reply = ask(teacher, PageInput(doc_id="d", page_index=0, image=b"", mime_type="image/jpeg", source=broken),
                "content")
    assert reply.status is ReplyStatus.SERVER_ERROR and "not a PDF" in reply.detail
    teacher.close()
    assert teacher._doc is None


def test_generation_params_are_empty(teacher):
    assert teacher.generation_params() == {}


# ---------------------------------------------------------------------------------------------
# The third-party corpus (../shared/corpus/pdfs), skipped when absent
# ---------------------------------------------------------------------------------------------

def test_corpus(teacher, corpus_pdfs, corpus_manifest):
    started = time.perf_counter()
    timings: list[tuple[float, str]] = []
    outcomes: dict[str, int] = {}
    for entry in corpus_manifest:
        facts = entry["pymupdf_facts"]
        if not facts.get("opens"):
            continue
        path = corpus_pdfs / entry["file"]
        passwords = (entry["password"],) if entry.get("password") else ()
        try:
            with open_pdf(path, passwords) as doc:
                pages, meta = doc.page_count, doc.metadata
        except PdfOpenError:
            continue  # zero pages, damaged beyond repair: the render stage skips these
        for index in range(min(pages, 3)):
            page = PageInput(doc_id=entry["file"], page_index=index, image=b"", mime_type="image/jpeg",
                             source=path, passwords=passwords, pdf_metadata=meta)
            for task in TASKS:
                t0 = time.perf_counter()
                reply = ask(teacher, page, task)  # validates every COMPLETE answer
                timings.append((time.perf_counter() - t0, f"{entry['file']}#{index}:{task}"))
                outcomes[reply.status.value] = outcomes.get(reply.status.value, 0) + 1
                assert reply.status in (ReplyStatus.COMPLETE, ReplyStatus.NO_TEXT_LAYER), \
                    (entry["file"], index, reply.detail)
                if pages == 1 and facts.get("text_chars_first3") == 0:
                    assert reply.status is ReplyStatus.NO_TEXT_LAYER, entry["file"]
    elapsed = time.perf_counter() - started
    slowest = sorted(timings, reverse=True)[:3]
    print(f"\ntextlayer corpus: {len(timings)} answers in {elapsed:.2f}s, {outcomes}; "
          f"mean {1000 * sum(t for t, _ in timings) / len(timings):.0f} ms, slowest "
          + ", ".join(f"{name} {1000 * t:.0f} ms" for t, name in slowest))
    assert outcomes.get("complete", 0) > 20
    assert elapsed < 60
