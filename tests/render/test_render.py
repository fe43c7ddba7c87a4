"""The render stage end to end: corpus outcomes, resume, identity by content, odd names, memory."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.render.config import RenderConfig, RenderRunConfig
from pipeline.records import PageStatus
from pipeline.render.stage import render_folder
from pipeline.store import RunStore
from tests.conftest import REPO_ROOT, make_pdf

SMALL = RenderConfig(longest_side=256)


def run(pdf_dir: Path, run_dir: Path, render: RenderConfig = SMALL, **kw):
    cfg = RenderRunConfig(pdf_dir=pdf_dir, run_dir=run_dir, render=render, **kw)
    with RunStore(run_dir) as store:
        return render_folder(cfg, store, progress=False)


def expected_outcome(entry: dict) -> str:
    """What the MANIFEST's PyMuPDF facts say the outcome must be."""
    facts = entry["pymupdf_facts"]
    if not facts["opens"]:
        return "skipped:not_a_pdf"
    if facts["pages"] == 0:
        return "skipped:corrupt" if facts["repaired"] else "skipped:zero_pages"
    return "ok"


def test_corpus_outcomes_match_manifest(corpus_pdfs, corpus_manifest, tmp_path):
    passwords = {e["file"]: e["password"] for e in corpus_manifest if e["password"]}
    summary = run(corpus_pdfs, tmp_path / "run", passwords_by_name=passwords, workers=2)
    skipped = {s["path"]: s["reason"] for s in summary.skipped_files}
    expected_pages = 0
    with RunStore(tmp_path / "run") as store:
        docs = {row["path"]: row for row in store.documents()}
        for entry in corpus_manifest:
            want = expected_outcome(entry)
            row = docs[entry["file"]]
            got = "ok" if row["status"] == "ok" else f"skipped:{row['reason']}"
            assert got == want, (entry["file"], row["detail"])
            if want == "ok":
                expected_pages += entry["pymupdf_facts"]["pages"]
                assert row["page_count"] == entry["pymupdf_facts"]["pages"], entry["file"]
                assert entry["file"] not in skipped
            if entry["password"]:
                assert row["encryption"] and "password" in row["encryption"], entry["file"]
            if entry["pymupdf_facts"]["encryption_meta"] and not entry["pymupdf_facts"]["is_encrypted"]:
                assert "empty user password" in row["encryption"], entry["file"]
        pages = {(p.doc_id, p.page_index): p for p in store.iter_pages(None)}
        assert sum(1 for p in pages.values() if p.status is PageStatus.RENDERED) == expected_pages
        for entry in corpus_manifest:  # /Rotate 90 (inherited too) turns the image landscape
            if entry["pymupdf_facts"].get("p0_rotation") == 90:
                first = pages[(docs[entry["file"]]["doc_id"], 0)]
                assert first.rotation == 90
    assert summary.pages_failed == 0 and summary.pages_rendered == expected_pages
    assert sum(summary.outcomes.values()) == len(corpus_manifest)  # exactly one outcome per file


def test_encrypted_without_password_is_skipped_with_the_fix(tmp_path):
    make_pdf(tmp_path / "in" / "locked.pdf", password="s3cret")
    summary = run(tmp_path / "in", tmp_path / "run")
    assert summary.outcomes == {"skipped:needs_password": 1}
    assert "--password" in summary.skipped_files[0]["detail"]
    summary = run(tmp_path / "in", tmp_path / "run", passwords=("wrong",))
    assert summary.outcomes == {"skipped:wrong_password": 1}
    summary = run(tmp_path / "in", tmp_path / "run", passwords=("wrong", "s3cret"))
    assert summary.outcomes == {"ok": 1} and summary.pages_rendered == 1
    assert b"s3cret" not in (tmp_path / "run" / "run.sqlite").read_bytes()  # never stored


def test_second_run_renders_nothing_and_changed_settings_rerender(tmp_path):
    make_pdf(tmp_path / "in" / "a.pdf", pages=3)
    make_pdf(tmp_path / "in" / "sub" / "b.pdf", pages=2, text="Letter")
    first = run(tmp_path / "in", tmp_path / "run")
    assert (first.pages_rendered, first.pages_up_to_date) == (5, 0)
    second = run(tmp_path / "in", tmp_path / "run")
    assert (second.pages_rendered, second.pages_up_to_date) == (0, 5)
    third = run(tmp_path / "in", tmp_path / "run", render=RenderConfig(longest_side=256, enhance="none"))
    assert (third.pages_rendered, third.pages_up_to_date) == (5, 0)
    # a deleted image is noticed and redone; nothing else is
    with RunStore(tmp_path / "run") as store:
        victim = next(store.iter_pages()).image_path
    (tmp_path / "run" / victim).unlink()
    fourth = run(tmp_path / "in", tmp_path / "run", render=RenderConfig(longest_side=256, enhance="none"))
    assert (fourth.pages_rendered, fourth.pages_up_to_date) == (1, 4)


def test_images_are_byte_identical_whatever_the_worker_count(tmp_path):
    """Image bytes feed the teacher cache key: the same page must give the same bytes every time."""
    make_pdf(tmp_path / "in" / "a.pdf", pages=9, text="Déjà vu " * 6)
    hashes = []
    for workers in (1, 2):
        run(tmp_path / "in", tmp_path / f"run{workers}", render=RenderConfig(longest_side=512), workers=workers)
        with RunStore(tmp_path / f"run{workers}") as store:
            hashes.append([p.image_sha256 for p in store.iter_pages()])
    assert hashes[0] == hashes[1] and len(set(hashes[0])) == 9


def test_renamed_copy_is_the_same_document(tmp_path):
    original = make_pdf(tmp_path / "in" / "contract.pdf", pages=2)
    run(tmp_path / "in", tmp_path / "run")
    shutil.copy(original, tmp_path / "in" / "contract (copy).pdf")
    original.rename(tmp_path / "in" / "renamed.pdf")
    summary = run(tmp_path / "in", tmp_path / "run")
    assert summary.files == 2 and summary.documents == 1
    assert summary.pages_rendered == 0 and summary.pages_up_to_date == 2
    with RunStore(tmp_path / "run") as store:
        (doc,) = store.documents()
        assert set(store.document_paths(doc["doc_id"])) == {"contract.pdf", "contract (copy).pdf", "renamed.pdf"}


@pytest.mark.parametrize("name", ["with space.pdf", "Счёт-фактура.pdf", "a@b.pdf", "scan.pdf.pdf",
                                  "UPPER.PDF", "MiXeD.Pdf"])
def test_odd_file_names(tmp_path, name):
    make_pdf(tmp_path / "in" / name, text=name)
    (tmp_path / "in" / "notes.txt").write_text("not an input")
    summary = run(tmp_path / "in", tmp_path / "run")
    assert summary.outcomes == {"ok": 1} and summary.pages_rendered == 1
    with RunStore(tmp_path / "run") as store:
        (doc,) = store.documents()
        assert doc["path"] == name


def test_bad_files_are_recorded_and_the_run_goes_on(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "oops.pdf").write_bytes(b"oops\n")
    (tmp_path / "in" / "truncated.pdf").write_bytes(make_pdf(tmp_path / "x.pdf").read_bytes()[:200])
    make_pdf(tmp_path / "in" / "good.pdf")
    summary = run(tmp_path / "in", tmp_path / "run")
    assert summary.outcomes["ok"] == 1 and summary.pages_rendered == 1
    assert {s["path"] for s in summary.skipped_files} == {"oops.pdf", "truncated.pdf"}
    assert all(s["detail"] for s in summary.skipped_files)


def test_memory_stays_bounded_on_a_352_page_book(tmp_path):
    make_pdf(tmp_path / "in" / "book.pdf", pages=352, text="Chapter text " * 8)
    # A fresh interpreter: forked workers inherit the parent's pages, and this test process may have
    # imported torch (1 GB) for another test.
    script = (
        "import json, resource, sys\n"
        "from pathlib import Path\n"
        "from pipeline.render.config import RenderConfig, RenderRunConfig\n"
        "from pipeline.render.stage import render_folder\n"
        "from pipeline.store import RunStore\n"
        "cfg = RenderRunConfig(pdf_dir=Path(sys.argv[1]), run_dir=Path(sys.argv[2]), render=RenderConfig(), workers=2)\n"
        "with RunStore(cfg.run_dir) as store:\n"
        "    pages = render_folder(cfg, store, progress=False).pages_rendered\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so this child would report the
        # peak of the (large) pytest process that started it.
        "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        "print(json.dumps({'pages': pages, 'main_mb': int(hwm.split()[1]) / 1024,\n"
        "                  'worker_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))\n")
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path / "in"), str(tmp_path / "run")],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    assert measured["pages"] == 352
    # A worker holds one page at a time (~7 MB of pixels at 1536 px); 352 pages held at once would
    # need > 2 GB. 400 MB leaves room for the interpreter, PyMuPDF and OpenCV.
    assert measured["worker_mb"] < 400 and measured["main_mb"] < 400, measured


def test_corpus_password_files_are_noted_as_opened_with_a_password(corpus_pdfs, corpus_manifest, tmp_path):
    """The stored note, for every corpus file opened with its password and every file encrypted with an
    empty user password. Planning alone records each file's outcome: no page needs rendering here."""
    from pipeline.render.stage import RenderSummary, plan

    passwords = {e["file"]: e["password"] for e in corpus_manifest if e["password"]}
    empty = [e["file"] for e in corpus_manifest
             if e["pymupdf_facts"]["encryption_meta"] and not e["pymupdf_facts"]["needs_pass"]]
    assert passwords and empty
    cfg = RenderRunConfig(pdf_dir=corpus_pdfs, run_dir=tmp_path / "run", render=SMALL, passwords_by_name=passwords)
    with RunStore(tmp_path / "run") as store:
        for _ in plan(cfg, store, RenderSummary()):
            pass
        notes = {row["path"]: row["encryption"] for row in store.documents()}
    for name in passwords:
        assert notes[name].endswith("(opened with a supplied password)"), (name, notes[name])
    for name in empty:
        assert notes[name].endswith("(empty user password: opened without one)"), (name, notes[name])
