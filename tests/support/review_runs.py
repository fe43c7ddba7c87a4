"""A real two-teacher run to sort into review queues: the offline textlayer teacher, then a cloud
teacher (the openai SDK against the local provider stub), then build_dataset and evaluate --mine."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf

from pipeline import build_dataset, evaluate
from pipeline.label.privacy import load_policy
from pipeline.label.sources import PageSources
from pipeline.label.stage import LabelConfig, label_pages
from pipeline.render.config import RenderConfig, RenderRunConfig
from pipeline.render.stage import render_folder
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from pipeline.teachers import TeacherSettings, make_teacher
from tests.conftest import make_pdf
from tests.support.provider_stub import Behaviour, ProviderStub

CONTENT = tuple(resolve_tasks(["content"]))


def write_scan(path: Path) -> Path:
    """A PDF page with no text layer (a drawn bar only)."""
    doc = pymupdf.open()
    doc.new_page(width=595, height=842).draw_rect(pymupdf.Rect(72, 100, 400, 130), fill=(0, 0, 0))
    doc.save(path)
    doc.close()
    return path


def render_run(tmp_path: Path, texts: dict[str, str | None]) -> RenderRunConfig:
    """One-page PDFs by name (None: a page without a text layer), rendered into tmp_path/run."""
    pdfs = tmp_path / "pdfs"
    for name, text in texts.items():
        if text is None:
            pdfs.mkdir(parents=True, exist_ok=True)
            write_scan(pdfs / name)
        else:
            make_pdf(pdfs / name, text=text)
    cfg = RenderRunConfig(pdf_dir=pdfs, run_dir=tmp_path / "run", render=RenderConfig(longest_side=200))
    with RunStore(cfg.run_dir) as store:
        render_folder(cfg, store, progress=False)
    return cfg


def label_with(cfg: RenderRunConfig, teacher: str, settings: TeacherSettings, privacy_policy=None):
    teacher_obj = make_teacher(teacher, settings)
    try:
        with RunStore(cfg.run_dir) as store, PageSources(cfg, store) as sources:
            return label_pages(sources, LabelConfig(tasks=CONTENT, privacy_policy=privacy_policy), store, teacher_obj,
                               progress=False)
    finally:
        teacher_obj.close()


def offline_labels(cfg: RenderRunConfig) -> dict[str, dict]:
    """Label every page with the textlayer teacher; returns document name -> its label."""
    label_with(cfg, "textlayer", TeacherSettings(ocr_fallback="never"))
    with RunStore(cfg.run_dir) as store:
        return {store.get_document(label.doc_id)["path"]: label.label for label in store.iter_labels()
                if label.outcome == "ok"}


def cloud_labels(cfg: RenderRunConfig, answers: dict[str, dict]) -> list:
    """Label every page with the openai teacher; the stub answers each page (told apart by its image)
    with ``answers[document name]``. Returns the stub's requests."""
    by_image = {}
    with RunStore(cfg.run_dir) as store:
        for row in store.rendered_page_rows():
            by_image[(cfg.run_dir / row["image_path"]).read_bytes()] = answers[store.get_document(row["doc_id"])["path"]]
    # The blank scan has nothing OCR could read: the default policy holds it back as unverified; this
    # run's user has looked at it and allows it (the README's fix).
    policy_file = cfg.run_dir.parent / "allow_unverified.yaml"
    policy_file.write_text("actions:\n  unverified: allow\n")
    with ProviderStub(lambda request: Behaviour.ok(by_image[request.image_bytes])) as stub:
        summary = label_with(cfg, "openai", TeacherSettings(base_url=stub.openai_url, timeout_s=10),
                             privacy_policy=load_policy(policy_file))
        assert summary.left == 0 and not summary.failures, summary
        return stub.requests


def evaluate_and_mine(tmp_path: Path, run_dir: Path, student: dict[str, str]) -> Path:
    """build_dataset, then evaluate a 'student' whose answers are the references except ``student``
    (document name -> its answer text), mining its failures; returns evaluate's --out."""
    assert build_dataset.main([str(run_dir), "--out", str(tmp_path / "ds"), "--val-fraction", "0",
                               "--no-validate"]) == 0
    records = json.loads((tmp_path / "ds" / "docdistill_train.json").read_text())
    with RunStore(run_dir, read_only=True) as store:
        name_of = {row["doc_id"][:16]: store.get_document(row["doc_id"])["path"] for row in store.rendered_page_rows()}
    lines = []
    for record in records:
        name = name_of[Path(record["images"][0]).stem.split("_")[0]]
        reference = record["conversations"][1]["value"]
        lines.append(json.dumps({"prompt": record["conversations"][0]["value"], "label": reference,
                                 "predict": student.get(name, reference)}))
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert evaluate.main(["--references", str(tmp_path / "ds" / "docdistill_train.json"), "--system",
                          f"student=predictions:{predictions}", "--out", str(tmp_path / "eval"), "--no-report",
                          "--mine", str(tmp_path / "mined")]) == 0
    return tmp_path / "eval"
