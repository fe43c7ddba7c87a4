"""extract against the real `llamafactory-cli api`, offline on CPU: distill -> build_dataset -> a real
`llamafactory-cli train` of a tiny random Gemma 3 -> the generated _api.yaml served with the safe
command of its header (127.0.0.1, API_MODEL_NAME, API_VERBOSE=0) -> `pipeline.extract` on PDFs the
dataset never saw, through a recording proxy that shows what the server was sent.

Needs the train extra; a few minutes on 2 cores.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import pytest

pytest.importorskip("llamafactory", reason="install the train extra: pip install -e '.[train]'")

from pipeline.dataset.sharegpt import resized_copy  # noqa: E402
from tests.conftest import REPO_ROOT, make_pdf  # noqa: E402
from tests.dataset.test_train_e2e import CPU_OVERRIDES, OFFLINE_ENV, run  # noqa: E402
from tests.support.recording_proxy import RecordingProxy  # noqa: E402
from tests.support.tiny_gemma import build_tiny_gemma3  # noqa: E402

SYSTEM = "You read scanned records for the archive."


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_env(header: str, port: int) -> dict[str, str]:
    """The environment of the serving command the _api.yaml header gives (only the port changed)."""
    line = next(line for line in header.splitlines() if "llamafactory-cli api" in line)
    command = line.split("&&", 1)[1]                 # "#   cd DATASET_DIR && API_HOST=... llamafactory-cli api ..."
    assignments = command.split("llamafactory-cli api", 1)[0].split()
    env = dict(item.split("=", 1) for item in assignments)
    assert env == {"API_HOST": "127.0.0.1", "API_PORT": "8000", "API_MODEL_NAME": "docdistill", "API_VERBOSE": "0"}
    return {**env, "API_PORT": str(port)}


def wait_until_serving(url: str, proc: subprocess.Popen, log: Path, limit_s: float = 400) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"llamafactory-cli api exited {proc.returncode}:\n{log.read_text()[-6000:]}"
        try:
            with opener.open(url + "/v1/models", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"llamafactory-cli api did not answer within {limit_s}s:\n{log.read_text()[-6000:]}")


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_extract_with_the_real_llamafactory_api(tmp_path):
    model = build_tiny_gemma3(tmp_path / "tiny-gemma3")
    run([sys.executable, "-m", "pipeline.distill", "data/samples", "--out", str(tmp_path / "run"),
         "--teacher", "textlayer", "--longest-side", "512", "--no-progress"], REPO_ROOT, tmp_path / "distill.log")
    overrides = [a for item in [f"model_name_or_path={model}", *CPU_OVERRIDES] for a in ("--set", item)]
    run([sys.executable, "-m", "pipeline.build_dataset", str(tmp_path / "run"), "--out", str(tmp_path / "ds"),
         "--val-fraction", "0.3", "--max-image-side", "256", "--system-prompt", SYSTEM, *overrides], REPO_ROOT,
        tmp_path / "build.log")
    run([sys.executable, "-m", "llamafactory.cli", "train", "docdistill.yaml"], tmp_path / "ds",   # from inside it
        tmp_path / "train.log")
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())["student"]
    records = json.loads((tmp_path / "ds" / "docdistill_train.json").read_text())
    human = {r["conversations"][0]["value"].removeprefix("<image>"): r for r in records}

    new = tmp_path / "new"                                   # documents the dataset never saw
    make_pdf(new / "archive" / "deed 1971.pdf", pages=2, text="Deed of sale 1971")
    make_pdf(new / "permit.pdf", pages=1, text="Building permit 88")

    api_yaml = tmp_path / "ds" / "docdistill_api.yaml"
    port = free_port()
    env = {**os.environ, **OFFLINE_ENV, **serve_env(api_yaml.read_text(), port)}
    server_log = tmp_path / "api.log"
    with server_log.open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "llamafactory.cli", "api", api_yaml.name], cwd=api_yaml.parent,
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}", server, server_log)
        with RecordingProxy(f"http://127.0.0.1:{port}") as proxy:
            extract_cmd = [sys.executable, "-m", "pipeline.extract", str(new), "--out", str(tmp_path / "out"),
                           "--endpoint", proxy.url + "/v1", "--model", "docdistill", "--dataset", str(tmp_path / "ds"),
                           "--max-tokens", "24", "--max-attempts", "1", "--json", "--no-progress"]
            run(extract_cmd, REPO_ROOT, tmp_path / "extract.log")
            sent = [r for r in proxy.requests if r.path.endswith("/chat/completions")]
            run(extract_cmd, REPO_ROOT, tmp_path / "extract-again.log")
            assert len(proxy.requests) == len(sent)               # the rerun sent nothing
    finally:
        server.terminate()
        server.wait(60)

    summary = json.loads((tmp_path / "extract.log").read_text().splitlines()[-1])
    tasks = [t["name"] for t in manifest["tasks"]]
    assert summary["student"]["render_key"] == manifest["render"]["key"] and not summary["student"]["warnings"]
    assert len(sent) == 3 * len(tasks)                        # every page under every task, once
    outcomes = summary["outputs"]["outcomes"]
    assert set(outcomes) == set(tasks) and all(sum(c.values()) == 3 for c in outcomes.values())
    assert "not_answered" not in str(outcomes)               # each one answered (garbage: the model is random)

    # The request is the training record: system turn, image first, the human turn's text exactly.
    expected_images = rendered_as_trained(tmp_path, new, manifest)
    for request in sent:
        system, user = request.body["messages"]
        assert system == {"role": "system", "content": SYSTEM} and request.model == "docdistill"
        assert [p["type"] for p in user["content"]] == ["image_url", "text"]
        record = human[user["content"][1]["text"]]
        assert record["system"] == SYSTEM
        assert request.image_bytes in expected_images
    assert {r.image_bytes for r in sent} == set(expected_images)

    docs = tmp_path / "out" / "docs"
    assert sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.json")) == ["archive/deed 1971.pdf.json",
                                                                                    "permit.pdf.json"]
    deed = json.loads((docs / "archive" / "deed 1971.pdf.json").read_text())
    assert [p["page"] for p in deed["pages"]] == [1, 2] and set(deed["pages"][0]["answers"]) == set(tasks)
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 3 * len(tasks)

    # API_VERBOSE=0: the server logged no request body, no image, no prompt.
    log_text = server_log.read_text()
    assert "==== request ====" not in log_text and "base64" not in log_text
    assert not any(base64.b64encode(image).decode()[:64] in log_text for image in expected_images)
    assert all(task["student_prompt"] not in log_text for task in manifest["tasks"])


def rendered_as_trained(tmp_path: Path, pdfs: Path, manifest: dict) -> set[bytes]:
    """What build_dataset's settings make of these pages: distill renders them with the manifest's
    render settings, and --max-image-side resizes them as build_dataset does."""
    settings = manifest["render"]["settings"]
    flags = ["--longest-side", str(settings["longest_side"]), "--max-pixels", str(settings["max_pixels"]),
             "--enhance", settings["enhance"], "--format", settings["image_format"],
             "--jpeg-quality", str(settings["jpeg_quality"])]
    flags += ["--enhance-all-pages"] if settings["enhance_pages"] == "always" else []
    flags += ["--grayscale"] if settings["grayscale"] else []
    run([sys.executable, "-m", "pipeline.distill", str(pdfs), "--out", str(tmp_path / "expected"), "--render-only",
         "--no-progress", *flags], REPO_ROOT, tmp_path / "expected.log")
    images = (tmp_path / "expected" / "images").rglob("*.*")
    return {resized_copy(cv2.imread(str(p), cv2.IMREAD_UNCHANGED), manifest["max_image_side"], ".jpg") for p in images}
