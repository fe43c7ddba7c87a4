"""Ctrl-C during render and during labelling: one line, exit 130, no traceback, no worker left, the
store intact, and a rerun that continues without redoing what was stored.

Ctrl-C is sent as a terminal sends it: SIGINT to the whole process group (render workers included).
The moment is chosen by polling the run store, never by sleeping: labelling is held mid-run by a
stub that answers the first few requests and keeps the rest waiting until the test lets them go.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, make_pdf
from tests.label.test_label import CONTENT, KEY
from tests.support.provider_stub import Behaviour, ProviderStub


def stored(run_dir: Path, table: str, where: str = "") -> int:
    """Rows in a table of the run store, read while the run writes it (0 before it exists)."""
    try:
        with sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True) as conn:
            return conn.execute(f"SELECT COUNT(*) FROM {table} {where}").fetchone()[0]
    except sqlite3.Error:
        return 0


def interrupt_once(proc: subprocess.Popen, ready) -> tuple[str, str]:
    """Wait (polling) until ``ready()``, then Ctrl-C the process group; returns stdout, stderr."""
    deadline = time.monotonic() + 240            # a hang guard only: on time, it is never reached
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be interrupted:\n{proc.communicate()[1]}")
        assert time.monotonic() < deadline, "nothing was stored"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=240)
    return out, err


def assert_one_interrupted_line(proc: subprocess.Popen, err: str, pages: int, labels: int) -> None:
    assert proc.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"interrupted: {pages} rendered page(s) and {labels} label(s) are stored in"), err
    assert "rerun the same command to continue" in err
    deadline = time.monotonic() + 60
    while True:                                  # every process of the group is gone (render workers too)
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "a worker process outlived the interrupted run"
        time.sleep(0.05)


def integrity_ok(run_dir: Path) -> bool:
    with sqlite3.connect(run_dir / "run.sqlite") as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.timeout(600)
def test_ctrl_c_while_rendering_with_workers(tmp_path):
    pages = 600
    make_pdf(tmp_path / "in" / "book.pdf", pages=pages)
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "pipeline.distill", str(tmp_path / "in"), "--out", str(run_dir), "--render-only",
           "--workers", "2", "--longest-side", "512", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    _, err = interrupt_once(proc, lambda: stored(run_dir, "pages", "WHERE status = 'rendered'") > 0)
    kept = stored(run_dir, "pages", "WHERE status = 'rendered'")
    assert 0 < kept < pages
    assert_one_interrupted_line(proc, err, kept, 0)
    assert integrity_ok(run_dir)

    rerun = subprocess.run([*cmd, "--json"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)["render"]["pages"]
    assert summary == {"total": pages, "rendered": pages - kept, "up_to_date": kept, "failed": 0}


@pytest.mark.timeout(600)
def test_ctrl_c_while_labelling(tmp_path):
    pages, answered, concurrency = 12, 4, 2
    make_pdf(tmp_path / "in" / "book.pdf", pages=pages)
    run_dir = tmp_path / "run"
    release, lock, seen = threading.Event(), threading.Lock(), [0]

    def first_few_then_hold(request) -> Behaviour:
        with lock:
            seen[0] += 1
            hold = seen[0] > answered
        if hold:                                 # in flight when Ctrl-C comes; answered after the test is done
            release.wait(timeout=300)
        return Behaviour.ok({**CONTENT, "markdown": f"# page {seen[0]}"})

    env = {**os.environ, "GEMINI_API_KEY": KEY}
    with ProviderStub(first_few_then_hold) as stub:
        cmd = [sys.executable, "-m", "pipeline.distill", str(tmp_path / "in"), "--out", str(run_dir),
               "--teacher", "gemini", "--base-url", stub.url, "--task", "content", "--longest-side", "128",
               "--concurrency", str(concurrency), "--no-progress"]
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            _, err = interrupt_once(proc, lambda: stored(run_dir, "labels") >= answered)
        finally:
            release.set()
            if proc.poll() is None:
                proc.kill()
        assert_one_interrupted_line(proc, err, pages, answered)
        assert stored(run_dir, "labels", "WHERE outcome = 'ok'") == answered and integrity_ok(run_dir)
        sent_before = len(stub.requests)

        rerun = subprocess.run([*cmd, "--json"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                               timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        label = json.loads(rerun.stdout)["label"]
        assert label["up_to_date"] == answered and label["labels"] == {"content": {"ok": pages - answered}}
        assert len(stub.requests) - sent_before == pages - answered     # nothing stored was asked again
