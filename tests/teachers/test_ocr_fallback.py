"""textlayer's --ocr-fallback: pages without a usable text layer (scans, image documents) read by Tesseract."""

from __future__ import annotations

import pytest

from pipeline import distill
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from pipeline.teachers import PageInput, ReplyStatus, TeacherConfigError, TeacherSettings, make_teacher
from tests.conftest import REPO_ROOT

TASKS = {t.name: t for t in resolve_tasks(["content", "metadata"])}
SCAN = REPO_ROOT / "data" / "samples" / "scan_image_only.pdf"


@pytest.fixture(scope="module")
def rendered_scan(tmp_path_factory) -> tuple[PageInput, str]:
    """The sample scan as the label stage gives it to a teacher: its PDF and its rendered page image."""
    run = tmp_path_factory.mktemp("scan") / "run"
    assert distill.main([str(SCAN.parent), "--out", str(run), "--render-only", "--include", SCAN.name,
                         "--no-progress"]) == 0
    with RunStore(run) as store:
        page = next(store.iter_pages())
    return PageInput(page.doc_id, 0, (run / page.image_path).read_bytes(), "image/jpeg", source=SCAN), page.image_path


def test_auto_ocrs_a_page_without_a_text_layer(tesseract, rendered_scan):
    page, _ = rendered_scan
    teacher = make_teacher("textlayer", TeacherSettings())   # auto, Tesseract installed
    assert teacher.generation_params() == {"ocr": f"tesseract-{tesseract}", "ocr_lang": "ara+eng", "ocr_rules": 1}
    content = teacher.ask(page, TASKS["content"], "")
    assert content.status is ReplyStatus.COMPLETE, content.detail
    assert "DELIVERY NOTE" in content.data["markdown"] and "without a usable text layer" in content.detail
    meta = teacher.ask(page, TASKS["metadata"], "")
    assert meta.status is ReplyStatus.COMPLETE and meta.data["physical"]["scan_quality"] != "born_digital"
    assert ("issue", "2025-02-21") in {(d["kind"], d["value"]) for d in meta.data["dates"]}
    teacher.close()


def test_never_keeps_no_text_layer_and_the_old_identity(rendered_scan):
    page, _ = rendered_scan
    teacher = make_teacher("textlayer", TeacherSettings(ocr_fallback="never"))
    assert teacher.generation_params() == {}          # the labels of runs made before the fallback existed
    reply = teacher.ask(page, TASKS["content"], "")
    assert reply.status is ReplyStatus.NO_TEXT_LAYER and "no text layer" in reply.detail
    teacher.close()


def test_missing_ocr_is_a_hint_under_auto_and_an_error_under_always(tesseract, rendered_scan):
    page, _ = rendered_scan
    teacher = make_teacher("textlayer", TeacherSettings(ocr_lang="xyz"))
    assert teacher.generation_params() == {}
    reply = teacher.ask(page, TASKS["content"], "")
    assert reply.status is ReplyStatus.NO_TEXT_LAYER and "apt-get install tesseract-ocr-xyz" in reply.detail
    with pytest.raises(TeacherConfigError, match="--ocr-fallback always: .*tesseract-ocr-xyz"):
        make_teacher("textlayer", TeacherSettings(ocr_lang="xyz", ocr_fallback="always"))
    with pytest.raises(TeacherConfigError, match="--ocr-fallback must be one of"):
        make_teacher("textlayer", TeacherSettings(ocr_fallback="sometimes"))


def test_image_documents_through_textlayer(tesseract, rendered_scan, tmp_path):
    page, _ = rendered_scan
    png = tmp_path / "delivery.jpg"
    png.write_bytes(page.image)
    teacher = make_teacher("textlayer", TeacherSettings())
    reply = teacher.ask(PageInput("img", 0, page.image, "image/jpeg", source=png), TASKS["content"], "")
    assert reply.status is ReplyStatus.COMPLETE and "DELIVERY NOTE" in reply.data["markdown"]
    never = make_teacher("textlayer", TeacherSettings(ocr_fallback="never"))
    reply = never.ask(PageInput("img", 0, page.image, "image/jpeg", source=png), TASKS["content"], "")
    assert reply.status is ReplyStatus.NO_TEXT_LAYER and "image document (jpeg) has no text layer" in reply.detail
