"""A small run folder to review: rendered PDFs and stored labels of every kind the queues sort."""

from __future__ import annotations

import time
from pathlib import Path

from pipeline.records import LabelRecord, PageStatus
from pipeline.render.config import RenderConfig, RenderRunConfig
from pipeline.render.stage import render_folder
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from tests.conftest import make_pdf

ARABIC = "فاتورة رقم ٤٢ للسيد أحمد"


def content_label(markdown: str, element_text: str = "Invoice", level: int | None = 1) -> dict:
    return {"languages": ["en"], "direction": "ltr", "page_number": None, "has_tables": False,
            "has_handwriting": False, "elements": [{"kind": "heading", "text": element_text, "level": level}],
            "markdown": markdown}


def make_review_run(tmp_path: Path) -> tuple[Path, Path]:
    """(run folder, input folder): a.pdf (2 pages, valid labels; page 2 in Arabic), b.pdf (held back by
    the privacy gate), c.pdf (an invalid answer), d.pdf (a valid label). Every label is a ``stub`` teacher's content label."""
    pdfs = tmp_path / "pdfs"
    make_pdf(pdfs / "a.pdf", pages=2, text="Invoice 42")
    make_pdf(pdfs / "b.pdf", pages=1, text="Patient record 7")
    make_pdf(pdfs / "c.pdf", pages=1, text="Ledger 9")
    make_pdf(pdfs / "d.pdf", pages=1, text="Deposit 5")
    cfg = RenderRunConfig(pdf_dir=pdfs, run_dir=tmp_path / "run", render=RenderConfig(longest_side=400))
    (task,) = resolve_tasks(["content"])
    with RunStore(cfg.run_dir) as store:
        render_folder(cfg, store, progress=False)
        pages = {store.get_document(p.doc_id)["path"] + f"#{p.page_index}": p
                 for p in store.iter_pages(PageStatus.RENDERED)}
        now = time.time()

        def put(name: str, outcome: str, label: dict | None = None, **kw) -> None:
            page = pages[name]
            store.put_label(LabelRecord(f"key-{name}", page.doc_id, page.page_index, "content", "stub", "m",
                                        task.prompt_hash, task.schema_hash, outcome, label=label,
                                        created_at=now, **kw))

        with store.transaction():
            store.put_task(task.name, task.prompt_hash, task.schema_hash, task.student_prompt,
                           task.teacher_template, task.model.model_json_schema())
            put("a.pdf#0", "ok", content_label("# Invoice 42\n\nTotal: 100 EUR"))
            put("a.pdf#1", "ok", content_label(f"# {ARABIC}\n\nالمجموع ١٠٠", element_text=ARABIC))
            put("b.pdf#0", "sensitive_blocked", detail="health", attempts=0)
            put("d.pdf#0", "ok", content_label("# Deposit 5"))
            put("c.pdf#0", "invalid", raw_text='{"languages": ["en"], "direction": "sideways"}',
                detail="direction: Input should be 'ltr', 'rtl' or 'mixed'")
    return cfg.run_dir, pdfs
