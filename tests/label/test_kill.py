"""Crash safety: SIGKILL the distill CLI at random moments, rerun, and nothing is lost or paid twice."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO_ROOT, make_pdf
from tests.support.provider_stub import Behaviour, ProviderStub, StubRequest
from tests.label.test_label import CONTENT, KEY

PAGES, CONCURRENCY, LATENCY, KILLS = 30, 4, 0.15, 10


def page_specific(request: StubRequest) -> Behaviour:
    """A different (valid) label per page, so a label stored under the wrong page would show."""
    tag = hashlib.sha256(request.image_bytes).hexdigest()[:12]
    return Behaviour.ok({**CONTENT, "markdown": f"# page {tag}"})


def labels(run_dir) -> dict:
    with sqlite3.connect(run_dir / "run.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT doc_id, page_index, task, outcome, label_json FROM labels").fetchall()
    return {(d, p, t): (o, json.loads(l) if l else None) for d, p, t, o, l in rows}


@pytest.mark.slow
@pytest.mark.timeout(600)   # ~12 process starts: minutes on a loaded machine, not seconds
def test_kill_9_at_random_moments_then_rerun(tmp_path):
    make_pdf(tmp_path / "in" / "book.pdf", pages=PAGES)
    env = {**os.environ, "GEMINI_API_KEY": KEY}
    rng = random.Random(int(os.environ.get("KILL_TEST_SEED", "7")))

    def command(out: str) -> list[str]:
        return [sys.executable, "-m", "pipeline.distill", str(tmp_path / "in"), "--out", str(tmp_path / out),
                "--teacher", "gemini", "--base-url", stub.url, "--task", "content", "--longest-side", "128",
                "--concurrency", str(CONCURRENCY), "--no-progress"]

    with ProviderStub(page_specific, latency=LATENCY) as stub:
        subprocess.run(command("clean"), cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=120)
        uninterrupted = len(stub.requests)
        assert uninterrupted == PAGES
        kills = 0
        for attempt in range(40):
            before = len(stub.requests)
            proc = subprocess.Popen(command("killed"), cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            if attempt % 3 == 2:           # a blind moment: start-up, rendering, planning or labelling
                time.sleep(rng.uniform(0.2, 3.0))
            else:                          # a moment with requests surely in flight
                target = before + rng.randint(1, 2 * CONCURRENCY)
                while len(stub.requests) < target and proc.poll() is None:
                    time.sleep(0.005)
                time.sleep(rng.uniform(0, LATENCY))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
            if kills >= KILLS:
                break
        assert kills >= KILLS
        final = subprocess.run(command("killed") + ["--json"], cwd=REPO_ROOT, env=env, capture_output=True,
                               text=True, timeout=120)
        assert final.returncode == 0, final.stderr
        paid = len(stub.requests) - uninterrupted
    clean, killed = labels(tmp_path / "clean"), labels(tmp_path / "killed")
    assert killed == clean and len(clean) == PAGES and all(o == "ok" for o, _ in clean.values())
    print(f"kills {kills}, requests {paid} (uninterrupted {uninterrupted}, bound {uninterrupted + kills * CONCURRENCY})")
    assert paid <= uninterrupted + kills * CONCURRENCY, (paid, kills)
