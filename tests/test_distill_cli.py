"""The distill CLI: JSON summary on stdout, exit codes a script can act on (pipeline.cli): bad
configuration fails fast with 2, work left for a rerun is 1, a run with nothing usable is not 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pymupdf
import pytest

from tests.conftest import REPO_ROOT, make_pdf
from tests.label.test_label import CONTENT, KEY, valid_answer
from tests.support.provider_stub import Behaviour, ProviderStub, scripted


def distill(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.distill", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


def test_render_only_json_summary(tmp_path):
    make_pdf(tmp_path / "in" / "a.pdf", pages=2)
    (tmp_path / "in" / "broken.pdf").write_bytes(b"nope")
    result = distill(str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--render-only", "--json",
                     "--longest-side", "300")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["render"]
    assert summary["outcomes"] == {"ok": 1, "skipped:not_a_pdf": 1}
    assert summary["pages"] == {"total": 2, "rendered": 2, "up_to_date": 0, "failed": 0}
    assert summary["outputs"]["store"].endswith("run.sqlite")


def test_bad_configuration_fails_fast(tmp_path):
    result = distill(str(tmp_path / "missing"), "--out", str(tmp_path / "run"), "--render-only")
    assert result.returncode == 2 and "does not exist" in result.stderr
    (tmp_path / "in").mkdir()
    result = distill(str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--render-only",
                     "--passwords", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2 and "nope.yaml" in result.stderr
    result = distill(str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--render-only", "--workers", "0")
    assert result.returncode == 2 and "--workers" in result.stderr
    assert not (tmp_path / "run").exists()  # nothing created for a bad configuration


def test_store_write_failure_stops_with_a_message_and_keeps_what_was_stored(tmp_path, monkeypatch, capsys):
    import sqlite3

    from pipeline import distill as distill_module
    from pipeline.store import RunStore

    make_pdf(tmp_path / "in" / "a.pdf", pages=3)
    stored = []
    real_put = RunStore.put_label

    def put_label(store, record):   # the disk fills up after the first label
        if stored:
            raise sqlite3.OperationalError("database or disk is full")
        stored.append(record)
        real_put(store, record)

    monkeypatch.setattr(RunStore, "put_label", put_label)
    code = distill_module.main([str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--teacher", "textlayer",
                                "--no-progress"])
    err = capsys.readouterr().err
    assert code == 3 and "disk is full" in err and str(tmp_path / "run") in err and "rerun" in err
    monkeypatch.undo()
    with RunStore(tmp_path / "run") as store:
        assert len(list(store.iter_labels())) == 1


def blank_pdf(path):
    """A page with no text layer (a scan, as far as the offline teacher can tell)."""
    doc = pymupdf.open()
    doc.new_page()
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path)
    return path


def sys_subfolder():
    """A folder that even root cannot create (sysfs), or skip."""
    probe = Path("/sys/docdistill-write-probe")
    try:
        os.mkdir(probe)
    except OSError:
        return probe / "run"
    os.rmdir(probe)
    pytest.skip("no read-only place here: /sys accepts new folders")


def test_out_that_cannot_be_a_folder_is_a_configuration_error(tmp_path):
    make_pdf(tmp_path / "in" / "a.pdf")
    (tmp_path / "taken").write_text("not a folder")
    for out, said in ((tmp_path / "taken", "is a file, not a folder"),
                      (tmp_path / "taken" / "run", "taken is a file, not a folder"),
                      (sys_subfolder(), "is not writable")):
        result = distill(str(tmp_path / "in"), "--out", str(out), "--render-only")
        assert result.returncode == 2 and said in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and "disk space" not in result.stderr


def test_empty_input_folder_says_so(tmp_path):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "sub" / "notes.txt").write_text("no PDF here")
    result = distill(str(tmp_path / "in"), "--out", str(tmp_path / "run"))
    assert result.returncode == 2, result.stderr
    assert f"no documents found under {tmp_path / 'in'} (searched recursively for *.pdf, *.tif" in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_run_with_nothing_usable_is_not_done(tmp_path):
    (tmp_path / "broken" / "a.pdf").parent.mkdir()
    (tmp_path / "broken" / "a.pdf").write_bytes(b"not a pdf")
    result = distill(str(tmp_path / "broken"), "--out", str(tmp_path / "run1"), "--json")
    assert result.returncode == 2 and "no page could be rendered (skipped:not_a_pdf 1)" in result.stderr
    assert json.loads(result.stdout)["exit_code"] == 2         # the summary still says what happened
    blank_pdf(tmp_path / "scans" / "scan.pdf")
    result = distill(str(tmp_path / "scans"), "--out", str(tmp_path / "run2"), "--teacher", "textlayer")
    assert result.returncode == 2 and "no page has a usable label (no_text_layer 2)" in result.stderr
    rerun = distill(str(tmp_path / "scans"), "--out", str(tmp_path / "run2"), "--teacher", "textlayer")
    assert rerun.returncode == 2                                # the same verdict on a rerun
    render_only = distill(str(tmp_path / "scans"), "--out", str(tmp_path / "run2"), "--render-only")
    assert render_only.returncode == 0, render_only.stderr      # rendering it was all that was asked


def test_transient_failures_left_exit_1_and_a_rerun_finishes(tmp_path):

    make_pdf(tmp_path / "in" / "a.pdf", pages=2)
    env = {**os.environ, "GEMINI_API_KEY": KEY}

    def run(url):
        return subprocess.run([sys.executable, "-m", "pipeline.distill", str(tmp_path / "in"), "--out",
                               str(tmp_path / "run"), "--teacher", "gemini", "--base-url", url, "--task", "content",
                               "--max-attempts", "1", "--longest-side", "128", "--no-progress"],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env)
    with ProviderStub(scripted(Behaviour.status(503))) as stub:      # the first request fails, the next is fine
        result = run(stub.url)
    assert result.returncode == 1, result.stderr
    assert "incomplete: 1 request(s) failed for a transient reason (server_error 1)" in result.stderr
    assert "rerun the same command to continue" in result.stderr
    with ProviderStub(valid_answer) as stub:
        result = run(stub.url)
        assert result.returncode == 0, result.stderr
        assert len(stub.requests) == 1                              # only the failed one is sent again


def test_truncated_answer_says_what_to_do(tmp_path):

    make_pdf(tmp_path / "in" / "a.pdf", pages=2)
    env = {**os.environ, "GEMINI_API_KEY": KEY}
    with ProviderStub(scripted(Behaviour.truncated(), then=Behaviour.ok(CONTENT))) as stub:
        result = subprocess.run([sys.executable, "-m", "pipeline.distill", str(tmp_path / "in"), "--out",
                                 str(tmp_path / "run"), "--teacher", "gemini", "--base-url", stub.url, "--task",
                                 "content", "--concurrency", "1", "--longest-side", "128", "--no-progress"],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.strip().startswith("truncated a.pdf"))
    assert "cut off at the output-token limit (MAX_TOKENS" in line and "raise --max-output-tokens" in line
