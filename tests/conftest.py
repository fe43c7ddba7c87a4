"""Shared fixtures: tiny PDFs made inline, and the third-party corpus when it is beside the repo."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pymupdf
import pytest

# make test runs two pytest workers (xdist) on two cores: a torch or OpenMP pool of one thread per
# core in each worker's processes (LLaMA-Factory's training, predict and api subprocesses inherit
# this) would put four busy threads on two cores, and OpenMP threads spin while they wait. One thread
# per process; a user's own setting wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DOCDISTILL_SHARED", REPO_ROOT.parent / "shared"))
CORPUS = SHARED / "corpus"


def make_pdf(path: Path, pages: int = 1, text: str = "Invoice 42", *, size=(595, 842),
             rotate: int = 0, password: str | None = None) -> Path:
    """Write a small real PDF with one line of text per page."""
    doc = pymupdf.open()
    for i in range(pages):
        page = doc.new_page(width=size[0], height=size[1])
        page.insert_text((72, 100), f"{text} - page {i + 1}", fontsize=14)
        if rotate:
            page.set_rotation(rotate)
    path.parent.mkdir(parents=True, exist_ok=True)
    if password:
        doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=password, owner_pw=password + "!")
    else:
        doc.save(path)
    doc.close()
    return path


@pytest.fixture
def corpus_pdfs() -> Path:
    folder = CORPUS / "pdfs"
    if not (folder / "MANIFEST.json").is_file():
        pytest.skip(f"third-party corpus not found at {folder} (it sits in ../shared beside the repo in CI; "
                    "set DOCDISTILL_SHARED to use another location)")
    return folder


@pytest.fixture
def corpus_manifest(corpus_pdfs: Path) -> list[dict]:
    return json.loads((corpus_pdfs / "MANIFEST.json").read_text())


@pytest.fixture(scope="session")
def tesseract() -> str:
    """The installed Tesseract's version (with ara + eng data). Missing: a skip with the install command,
    except in CI (``CI`` set), where it must be installed (.ci/system_packages.sh) and the test fails."""
    from pipeline.teachers.tesseract import OcrUnavailable, check_tesseract

    try:
        return check_tesseract("ara+eng")
    except OcrUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI installs Tesseract (.ci/system_packages.sh), but: {exc}")
        pytest.skip(f"Tesseract is not installed here: {exc}")


@pytest.fixture
def arabic_corpus() -> Path:
    folder = CORPUS / "arabic"
    if not (folder / "scans").is_dir() or not (folder / "craneset_sample").is_dir():
        pytest.skip(f"third-party Arabic scans not found at {folder} (they sit in ../shared beside the repo in CI; "
                    "set DOCDISTILL_SHARED to use another location)")
    return folder


def pytest_collection_modifyitems(config, items):
    """Files with a slow (end-to-end) test first, the rest in their order: with the workers of
    ``make test`` (xdist, whole files per worker) the longest files start at once, not last."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)   # stable: order within a file is kept
