"""python -m pipeline.export on a distill run (teacher labels) and on an extract run (student answers)."""

from __future__ import annotations

import json
import os

import pymupdf

from pipeline import distill, export
from pipeline.store import RunStore
from tests.conftest import make_pdf
from tests.support.provider_stub import ProviderStub
from tests.support.student_fixtures import by_task


def distill_run(tmp_path, *args):
    assert distill.main([str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--teacher", "textlayer",
                         "--no-progress", "--longest-side", "256", *args]) == 0


def export_json(capsys, *argv) -> tuple[int, dict | None, str]:
    code = export.main([*map(str, argv), "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if code == 0 else None, captured.err


def test_export_a_distill_run(tmp_path, capsys):
    make_pdf(tmp_path / "in" / "2024" / "lease.pdf", pages=2, text="Lease 7")
    blank = pymupdf.open()                                             # no text layer: the textlayer teacher fails
    blank.new_page().draw_rect(pymupdf.Rect(50, 50, 300, 200), fill=(0.2, 0.2, 0.2))
    blank.save(tmp_path / "in" / "scan.pdf")
    (tmp_path / "in" / "2024" / "lease again.pdf").write_bytes((tmp_path / "in" / "2024" / "lease.pdf").read_bytes())
    (tmp_path / "in" / "locked.pdf").write_bytes(b"%PDF-1.7 garbage")
    distill_run(tmp_path)
    capsys.readouterr()
    code, summary, err = export_json(capsys, tmp_path / "run", "--out", tmp_path / "labels")
    assert code == 0, err
    docs = tmp_path / "labels" / "docs"
    assert sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.*")) == [
        "2024/lease again.pdf.json", "2024/lease again.pdf.md", "locked.pdf.json", "scan.pdf.json"]
    lease = json.loads((docs / "2024" / "lease again.pdf.json").read_text())
    assert lease["other_paths"] == ["2024/lease.pdf"] and [p["page"] for p in lease["pages"]] == [1, 2]
    content = lease["pages"][1]["answers"]["content"]
    assert content["outcome"] == "ok" and content["teacher"] == "textlayer"
    assert "Lease 7" in content["answer"]["markdown"]
    scan = json.loads((docs / "scan.pdf.json").read_text())["pages"][0]["answers"]
    assert {a["outcome"] for a in scan.values()} == {"no_text_layer"}
    locked = json.loads((docs / "locked.pdf.json").read_text())
    assert locked["status"] == "skipped" and locked["pages"] == [] and locked["reason"]
    markdown = (docs / "2024" / "lease again.pdf.md").read_text()
    assert markdown.startswith("<!-- page 1 -->\n") and "<!-- page 2 -->" in markdown
    lines = [json.loads(x) for x in (tmp_path / "labels" / "results.jsonl").read_text().splitlines()]
    assert len(lines) == (2 + 1) * 2 + 1                               # pages x tasks + the skipped file
    assert summary["outcomes"]["content"] == {"ok": 2, "no_text_layer": 1} and summary["skipped_documents"] == 1

    code, only, _ = export_json(capsys, tmp_path / "run", "--out", tmp_path / "md", "--format", "md",
                                "--task", "content")
    assert code == 0 and only["files"] == {"md": 1} and not (tmp_path / "md" / "results.jsonl").exists()
    assert set(only["outcomes"]) == {"content", "(document)"}
    code, _, err = export_json(capsys, tmp_path / "run", "--out", tmp_path / "x", "--teacher", "gemini")
    assert code == 2 and "textlayer" in err and not (tmp_path / "x").exists()
    code, _, err = export_json(capsys, tmp_path / "nothing", "--out", tmp_path / "x")
    assert code == 2 and "not a docdistill run folder" in err


def test_a_path_that_held_two_contents_keeps_its_name_for_the_newest(tmp_path, capsys):
    make_pdf(tmp_path / "in" / "form.pdf", pages=1, text="Form, first version")
    distill_run(tmp_path)
    make_pdf(tmp_path / "in" / "form.pdf", pages=1, text="Form, second version")
    os.utime(tmp_path / "in" / "form.pdf", ns=(1, 2_000_000_000_000_000_000))  # a different mtime: hashed again
    distill_run(tmp_path)
    capsys.readouterr()
    code, summary, _ = export_json(capsys, tmp_path / "run", "--out", tmp_path / "labels")
    assert code == 0 and summary["documents"] == 2
    newest = json.loads((tmp_path / "labels" / "docs" / "form.pdf.json").read_text())
    assert "second version" in newest["pages"][0]["answers"]["content"]["answer"]["markdown"]
    older = [p for p in (tmp_path / "labels" / "docs").glob("form.pdf.*.json")]
    assert len(older) == 1 and "first version" in older[0].read_text()


def test_export_an_extract_run_as_extract_wrote_it(tmp_path, capsys):
    from pipeline import extract

    make_pdf(tmp_path / "in" / "a.pdf", pages=2)
    with ProviderStub(by_task, models=["student"]) as stub:
        assert extract.main([str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--endpoint", stub.openai_url,
                             "--model", "student", "--no-progress", "--json"]) == 0
    capsys.readouterr()
    code, summary, _ = export_json(capsys, tmp_path / "out", "--out", tmp_path / "again", "--teacher", "student")
    assert code == 0 and summary["outcomes"] == {"content": {"ok": 2}, "metadata": {"ok": 2}}
    for name in ("docs/a.pdf.json", "docs/a.pdf.md", "results.jsonl"):
        assert (tmp_path / "again" / name).read_text() == (tmp_path / "out" / name).read_text(), name
    with RunStore(tmp_path / "out") as store:
        assert {label.teacher for label in store.iter_labels()} == {"student"}
