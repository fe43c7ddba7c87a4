"""The README demo (`make demo`): the sample PDFs labelled offline under both tasks, then a dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pipeline.teachers.tesseract import OcrUnavailable, check_tesseract
from tests.conftest import REPO_ROOT


def run(*args: str) -> dict:
    result = subprocess.run([sys.executable, "-m", *args, "--json"], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_demo_labels_the_samples_offline_and_builds_a_dataset(tmp_path):
    # The same commands as the Makefile's demo target.
    out = run("pipeline.distill", "data/samples", "--out", str(tmp_path / "run"), "--teacher", "textlayer")
    assert out["render"]["outcomes"] == {"ok": 6} and out["render"]["pages"]["failed"] == 0
    labels = out["label"]["labels"]
    pages = out["render"]["pages"]["total"]
    try:
        check_tesseract("ara+eng")
        ocr = True
    except OcrUnavailable:
        assert not os.environ.get("CI"), "CI installs Tesseract (.ci/system_packages.sh)"
        ocr = False
    # Every page has both labels; the image-only scan's come from OCR (--ocr-fallback auto) when Tesseract
    # is installed, and without it the scan has no text layer to label from.
    labelled = pages if ocr else pages - 1
    assert labels["content"] == {"ok": labelled, **({} if ocr else {"no_text_layer": 1})} == labels["metadata"]
    dataset = run("pipeline.build_dataset", str(tmp_path / "run"), "--out", str(tmp_path / "ds"))
    assert dataset["leakage"]["documents_in_several_splits"] == 0
    assert sum(s["records"] for s in dataset["splits"].values()) == 2 * labelled
    assert dataset["dropped"] == ({} if ocr else {"outcome_no_text_layer": 2})
    again = run("pipeline.distill", "data/samples", "--out", str(tmp_path / "run"), "--teacher", "textlayer")
    assert again["render"]["pages"]["rendered"] == 0 and again["label"]["requests"] == 0
