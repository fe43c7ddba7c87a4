"""The distill CLI: JSON summary on stdout, bad configuration fails fast with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT, make_pdf


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
