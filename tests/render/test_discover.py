"""Discovery: every path under PDF_DIR that looks like an input gets exactly one outcome, and nothing
outside PDF_DIR is read unless --follow-symlinks says so. No test here may hang on a FIFO."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.render.config import RenderConfig, RenderRunConfig
from pipeline.render.discover import file_sha256
from pipeline.render.stage import render_folder
from pipeline.shard import Shard
from pipeline.store import RunStore
from tests.conftest import make_pdf

SMALL = RenderConfig(longest_side=128)
# A FIFO that is opened blocks for ever: fail in seconds instead of after the global 600 s.
pytestmark = pytest.mark.timeout(60)


def run(pdf_dir: Path, run_dir: Path, **kw):
    cfg = RenderRunConfig(pdf_dir=pdf_dir, run_dir=run_dir, render=SMALL, **kw)
    with RunStore(run_dir) as store:
        return render_folder(cfg, store, progress=False)


def stored_outcomes(run_dir: Path) -> dict[str, tuple[str, str]]:
    with RunStore(run_dir) as store:
        return {row["path"]: (row["status"] if row["status"] == "ok" else f"skipped:{row['reason']}",
                              row["detail"]) for row in store.documents()}


@pytest.fixture
def odd_folder(tmp_path: Path) -> Path:
    """good.pdf, sub/..pdf, and six inputs that are not regular files inside the folder."""
    root = tmp_path / "in"
    make_pdf(root / "good.pdf", text="good")
    make_pdf(root / "sub" / "..pdf", text="dot dot")             # a file literally named "..pdf"
    secret = make_pdf(tmp_path / "outside" / "secret.pdf", text="secret outside the folder")
    os.symlink("../outside/secret.pdf", root / "evil.pdf")
    os.symlink(root / "missing.pdf", root / "dangling.pdf")
    os.symlink("loop.pdf", root / "loop.pdf")                    # resolves to itself: ELOOP
    os.symlink("/dev/zero", root / "zero.pdf")
    os.mkfifo(root / "fifo.pdf")
    return secret


def test_every_input_gets_one_outcome_and_links_are_not_followed(tmp_path, odd_folder):
    summary = run(tmp_path / "in", tmp_path / "run")
    assert summary.outcomes == {"ok": 2, "skipped:symlink": 1, "skipped:broken_link": 2,
                                "skipped:not_a_regular_file": 2}
    assert summary.files == 7 == sum(summary.outcomes.values())
    skipped = {s["path"]: s for s in summary.skipped_files}
    assert set(skipped) == {"evil.pdf", "dangling.pdf", "loop.pdf", "zero.pdf", "fifo.pdf"}
    assert "--follow-symlinks" in skipped["evil.pdf"]["detail"]
    assert all(s["detail"] for s in skipped.values())
    stored = stored_outcomes(tmp_path / "run")
    assert {p: o for p, (o, _) in stored.items()} == {
        "good.pdf": "ok", "sub/..pdf": "ok", "evil.pdf": "skipped:symlink", "dangling.pdf": "skipped:broken_link",
        "loop.pdf": "skipped:broken_link", "zero.pdf": "skipped:not_a_regular_file",
        "fifo.pdf": "skipped:not_a_regular_file"}
    with RunStore(tmp_path / "run") as store:  # the secret was never read: its content hash is nowhere
        assert store.get_document(file_sha256(odd_folder)) is None
        assert summary.pages_rendered == 2 == len(list(store.iter_pages()))
    again = run(tmp_path / "in", tmp_path / "run")   # a rerun gives the same outcomes, nothing new
    assert again.outcomes == summary.outcomes and again.pages_rendered == 0
    assert stored_outcomes(tmp_path / "run") == stored


def test_follow_symlinks_reads_a_target_outside_and_says_so(tmp_path, odd_folder):
    summary = run(tmp_path / "in", tmp_path / "run", follow_symlinks=True)
    assert summary.outcomes == {"ok": 3, "skipped:broken_link": 2, "skipped:not_a_regular_file": 2}
    stored = stored_outcomes(tmp_path / "run")
    assert stored["evil.pdf"][0] == "ok"
    assert "outside" in stored["evil.pdf"][1] and str(odd_folder) in stored["evil.pdf"][1]
    assert stored["zero.pdf"][0] == "skipped:not_a_regular_file"   # a device, even through a followed link
    assert stored["good.pdf"] == ("ok", "")
    assert [f["path"] for f in summary.outside_files] == ["evil.pdf"]


def test_unread_inputs_belong_to_one_shard_by_their_path(tmp_path, odd_folder):
    skipped: list[str] = []
    for i in (1, 2):
        summary = run(tmp_path / "in", tmp_path / f"run{i}", shard=Shard(i, 2))
        skipped += [s["path"] for s in summary.skipped_files]
        assert summary.files == 7 == sum(summary.outcomes.values())
    assert sorted(skipped) == ["dangling.pdf", "evil.pdf", "fifo.pdf", "loop.pdf", "zero.pdf"]  # each once


def test_folders_linked_named_pdf_and_looping(tmp_path):
    root = tmp_path / "in"
    make_pdf(root / "reports.pdf" / "q1.pdf", text="a folder named like a PDF is searched")
    make_pdf(tmp_path / "elsewhere" / "far.pdf", text="far")
    os.symlink(tmp_path / "elsewhere", root / "linked")
    os.symlink("..", root / "reports.pdf" / "up")                # a folder link back to its own parent
    summary = run(root, tmp_path / "run")
    assert {p: o for p, (o, _) in stored_outcomes(tmp_path / "run").items()} == {
        "reports.pdf/q1.pdf": "ok", "linked": "skipped:symlink", "reports.pdf/up": "skipped:symlink"}
    assert summary.files == 3
    summary = run(root, tmp_path / "run2", follow_symlinks=True)
    outcomes = {p: o for p, (o, _) in stored_outcomes(tmp_path / "run2").items()}
    assert outcomes == {"reports.pdf/q1.pdf": "ok", "linked/far.pdf": "ok", "reports.pdf/up": "skipped:broken_link"}
    assert summary.files == 3


def test_hidden_folders_are_not_searched_but_hidden_files_are_inputs(tmp_path):
    root = tmp_path / "in"
    make_pdf(root / ".git" / "inside.pdf")
    make_pdf(root / ".hidden.pdf", text="hidden file")
    summary = run(root, tmp_path / "run")
    assert summary.outcomes == {"ok": 1} and set(stored_outcomes(tmp_path / "run")) == {".hidden.pdf"}
