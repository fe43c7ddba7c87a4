"""Prefilling pages no teacher answered: a local student endpoint (the openai SDK against the stub on
127.0.0.1), a public endpoint refused, and the textlayer teacher on an encrypted PDF (distill's passwords)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from starlette.testclient import TestClient

from pipeline.records import LabelRecord, PageStatus
from pipeline.render.config import RenderConfig, RenderRunConfig
from pipeline.render.stage import render_folder
from pipeline.review.setup import ReviewConfig, review_app
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from tests.conftest import REPO_ROOT, make_pdf
from tests.support.provider_stub import Behaviour, ProviderStub
from tests.support.review_fixtures import content_label, make_review_run


def client_for(cfg: ReviewConfig) -> TestClient:
    app, token, _ = review_app(cfg)
    return TestClient(app, base_url="http://127.0.0.1", headers={"X-Review-Token": token})


def manual_item(client) -> dict:
    response = client.get("/api/item", params={"queue": "manual", "after": -1})
    assert response.status_code == 200, response.text
    return response.json()["item"]


def test_a_local_student_endpoint_prefills_a_held_back_page(tmp_path):
    run, pdfs = make_review_run(tmp_path)
    answer = content_label("# Patient record 7 (student)")
    with RunStore(run, read_only=True) as store:
        held = next(p for p in store.rendered_page_rows() if store.get_document(p["doc_id"])["path"] == "b.pdf")
        held_image = (run / held["image_path"]).read_bytes()
    with ProviderStub(lambda request: Behaviour.ok(answer), models=["docdistill-student"]) as stub:
        client = client_for(ReviewConfig(run, "amira", pdf_dir=pdfs,
                                         prefill_endpoint=f"{stub.openai_url}#docdistill-student"))
        item = manual_item(client)
        assert item["document"] == "b.pdf" and item["label"] == answer
        assert item["source"] == "prefill:student/docdistill-student"
        (request,) = stub.requests                            # one page asked, over the OpenAI chat REST shape
        assert request.provider == "openai" and request.model == "docdistill-student"
        assert request.image_bytes == held_image
        assert stub.model_lists == 1                          # the served model is checked once
        assert manual_item(client)["label"] == answer and len(stub.requests) == 1     # asked once per page


def test_a_student_that_gives_nothing_falls_back_to_the_text_layer(tmp_path):
    run, pdfs = make_review_run(tmp_path)
    with ProviderStub(lambda request: Behaviour.ok({"markdown": 7}), models=["s"]) as stub:
        item = manual_item(client_for(ReviewConfig(run, "amira", pdf_dir=pdfs, prefill_endpoint=f"{stub.openai_url}#s")))
    assert item["source"] == "prefill:textlayer/pymupdf-textlayer-1"
    assert "Patient record 7" in item["label"]["markdown"]
    assert any(note.startswith("student: invalid") for note in item["notes"]), item["notes"]


def test_a_public_endpoint_is_refused_before_anything_is_sent(tmp_path):
    run, _ = make_review_run(tmp_path)
    done = subprocess.run([sys.executable, "-m", "pipeline.review", str(run), "--prefill-endpoint",
                           "https://api.example.com/v1#student"], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert "https://api.example.com/v1" in done.stderr and "must not leave this machine" in done.stderr
    assert "127.0.0.1" in done.stderr                       # what to give instead


def encrypted_run(tmp_path):
    """An encrypted PDF, rendered with its password, held back by the privacy gate."""
    pdfs = tmp_path / "pdfs"
    make_pdf(pdfs / "secret.pdf", text="Salary slip 3", password="opensesame")
    cfg = RenderRunConfig(pdf_dir=pdfs, run_dir=tmp_path / "run", render=RenderConfig(longest_side=300),
                          passwords_by_name={"secret.pdf": "opensesame"})
    (task,) = resolve_tasks(["content"])
    with RunStore(cfg.run_dir) as store:
        render_folder(cfg, store, progress=False)
        (page,) = list(store.iter_pages(PageStatus.RENDERED))
        with store.transaction():
            store.put_task(task.name, task.prompt_hash, task.schema_hash, task.student_prompt,
                           task.teacher_template, task.model.model_json_schema())
            store.put_label(LabelRecord("key-secret", page.doc_id, page.page_index, "content", "openai", "m",
                                        task.prompt_hash, task.schema_hash, "sensitive_blocked", detail="salary",
                                        attempts=0, created_at=time.time()))
    return cfg.run_dir, pdfs


def test_the_textlayer_prefill_opens_encrypted_pdfs_with_distills_passwords(tmp_path):
    run, pdfs = encrypted_run(tmp_path)
    without = manual_item(client_for(ReviewConfig(run, "amira", pdf_dir=pdfs)))
    assert without["label"] is None or "Salary slip 3" not in json.dumps(without["label"])
    assert any("textlayer" in note and "password" in note for note in without["notes"]), without["notes"]
    for cfg in (ReviewConfig(run, "amira", pdf_dir=pdfs, passwords_by_name={"secret.pdf": "opensesame"}),
                ReviewConfig(run, "amira", pdf_dir=pdfs, passwords=("wrong", "opensesame"))):
        item = manual_item(client_for(cfg))
        assert item["source"] == "prefill:textlayer/pymupdf-textlayer-1", item["notes"]
        assert "Salary slip 3" in item["label"]["markdown"]


def test_the_passwords_file_flag_reaches_the_prefill(tmp_path):
    from pipeline.review.__main__ import build_parser

    run, pdfs = encrypted_run(tmp_path)
    secrets = tmp_path / "passwords.yaml"
    secrets.write_text("secret.pdf: opensesame\n")
    out = tmp_path / "ls.json"
    done = subprocess.run([sys.executable, "-m", "pipeline.review", str(run), "--pdf-dir", str(pdfs),
                           "--passwords", str(secrets), "--export-label-studio", str(out)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (task,) = json.loads(out.read_text())
    assert "Salary slip 3" in json.dumps(task["predictions"], ensure_ascii=False)
    assert build_parser().parse_args([str(run), "--password", "a", "--password", "b"]).password == ["a", "b"]
