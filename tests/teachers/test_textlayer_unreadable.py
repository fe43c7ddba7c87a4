"""The offline teacher on pages MuPDF cannot read: a permanent outcome, never a transient one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pymupdf
import pytest

from pipeline.label.sources import PageSources
from pipeline.label.stage import LabelConfig, label_pages
from pipeline.records import PageStatus
from pipeline.render.config import RenderConfig, RenderRunConfig
from pipeline.render.stage import render_folder
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from pipeline.teachers import PageInput, ReplyStatus, TeacherSettings, make_teacher

TASKS = tuple(resolve_tasks(["content", "metadata"]))
CORPUS_FILE = "pdfjs__Pages-tree-refs.pdf"   # issue 12: p1 was "text layer cannot be read: ... cycle in page tree"


def cyclic_page_tree_pdf(path: Path) -> Path:
    """Two pages by /Count, but the second kid is the page tree itself: page 2 cannot be loaded."""
    stream = b"BT /F1 24 Tf 72 720 Td (Invoice 42 total 12.50) Tj ET"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    data, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(data))
        data += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(data)
    data += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    data += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    data += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def page_input(path: Path, index: int) -> PageInput:
    return PageInput(doc_id="x", page_index=index, image=b"", mime_type="image/png", source=path)


def render(pdf_dir: Path, run_dir: Path) -> RenderRunConfig:
    cfg = RenderRunConfig(pdf_dir=pdf_dir, run_dir=run_dir, render=RenderConfig(longest_side=128))
    with RunStore(cfg.run_dir) as store:
        render_folder(cfg, store, progress=False)
    return cfg


def label(cfg: RenderRunConfig, **kw):
    teacher = make_teacher("textlayer", TeacherSettings())
    try:
        with RunStore(cfg.run_dir) as store, PageSources(cfg, store) as sources:
            summary = label_pages(sources, LabelConfig(tasks=TASKS, max_attempts=5, backoff_base_s=0.01,
                                                   backoff_max_s=0.05, **kw), store, teacher, progress=False)
            labels = {(l.page_index, l.task): l for l in store.iter_labels()}
    finally:
        teacher.close()
    return summary, labels


def test_a_page_that_cannot_be_loaded_is_unreadable_not_a_server_error(tmp_path):
    pdf = cyclic_page_tree_pdf(tmp_path / "cycle.pdf")
    with pymupdf.open(pdf) as doc, pytest.raises(Exception, match="cycle in page tree"):
        doc.load_page(1)                                    # the fault is MuPDF's own, not made up here
    teacher = make_teacher("textlayer", TeacherSettings())
    try:
        reply = teacher.ask(page_input(pdf, 1), TASKS[0], prompt="")
        assert reply.status is ReplyStatus.UNREADABLE_PAGE and "cycle in page tree" in reply.detail
        # Its neighbour reads fine: a page that cannot be loaded only gives page 1 no layout evidence.
        reply = teacher.ask(page_input(pdf, 0), TASKS[0], prompt="")
        assert reply.status is ReplyStatus.COMPLETE and "Invoice 42" in reply.data["markdown"]
    finally:
        teacher.close()


def test_an_unreadable_page_is_asked_once_and_not_again_on_rerun(tmp_path):
    pdf = cyclic_page_tree_pdf(tmp_path / "in" / "cycle.pdf")
    cfg = render(pdf.parent, tmp_path / "run")
    with RunStore(cfg.run_dir) as store:
        first, second = sorted(store.iter_pages(None), key=lambda p: p.page_index)
        assert first.status is PageStatus.RENDERED and second.status is PageStatus.FAILED
        # The second page as if it had rendered (another renderer, a MuPDF that draws it): its image
        # exists, its text layer still cannot be read.
        image = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 90, 128), False)
        image.clear_with(200)
        (cfg.run_dir / "images" / "p2.png").write_bytes(image.tobytes("png"))
        second.status, second.image_path, second.reason = PageStatus.RENDERED, "images/p2.png", ""
        second.image_sha256, second.width, second.height = "f" * 64, 90, 128
        with store.transaction():
            store.put_pages([second])

    summary, labels = label(cfg)
    assert {key: l.outcome for key, l in labels.items()} == {
        (0, "content"): "ok", (0, "metadata"): "ok",
        (1, "content"): "unreadable_page", (1, "metadata"): "unreadable_page"}
    assert labels[1, "content"].attempts == 1 and summary.retries == 0 and summary.requests == 4
    assert "cycle in page tree" in labels[1, "content"].detail

    summary, _ = label(cfg)                                 # a rerun of a finished run sends nothing
    assert summary.requests == 0 and summary.up_to_date == 4
    summary, labels = label(cfg, retry_failed=True)         # --retry-failed asks again
    assert summary.requests == 2 and labels[1, "content"].outcome == "unreadable_page"


def test_corpus_page_tree_file_labels_its_readable_page(corpus_pdfs, tmp_path):
    if not (corpus_pdfs / CORPUS_FILE).is_file():
        pytest.skip(f"{CORPUS_FILE} is not in this copy of the corpus ({corpus_pdfs})")
    (tmp_path / "in").mkdir()
    shutil.copy(corpus_pdfs / CORPUS_FILE, tmp_path / "in" / CORPUS_FILE)
    cfg = render(tmp_path / "in", tmp_path / "run")
    summary, labels = label(cfg)
    assert labels and all(l.outcome in ("ok", "no_text_layer", "unreadable_page") for l in labels.values())
    assert summary.retries == 0 and labels[0, "content"].outcome != "server_error"
    summary, _ = label(cfg)
    assert summary.requests == 0
