"""data/make_samples.py: the six sample PDFs exist, are reproducible, and have the features they claim."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from pathlib import Path

import pymupdf
import pytest

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "data" / "make_samples.py"
NAMES = ["invoice_en.pdf", "letter_ar.pdf", "report_multipage.pdf", "scan_image_only.pdf", "rotated_90.pdf",
         "form_stamp_signature.pdf"]


def generate(out: Path) -> Path:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == len(NAMES)  # one line per file written
    return out


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("samples"))


def open_page(samples: Path, name: str, index: int = 0):
    doc = pymupdf.open(samples / name)
    return doc, doc[index]


def test_all_files_written_and_small(samples):
    sizes = {name: (samples / name).stat().st_size for name in NAMES}
    assert all(0 < size < 150_000 for size in sizes.values()), sizes
    assert sum(sizes.values()) < 600_000


def test_two_runs_are_byte_identical(samples, tmp_path):
    again = generate(tmp_path / "again")
    for name in NAMES:
        assert (samples / name).read_bytes() == (again / name).read_bytes(), name


def test_invoice_text(samples):
    doc, page = open_page(samples, "invoice_en.pdf")
    text = page.get_text()
    assert "Total" in text and "NCB-INV-2025-00417" in text


def test_arabic_letter_is_shaped_text_in_an_arabic_font(samples):
    doc, page = open_page(samples, "letter_ar.pdf")
    raw = page.get_text()
    assert any("\ufe70" <= ch <= "\ufeff" for ch in raw)  # shaped: contextual presentation forms
    text = unicodedata.normalize("NFKC", raw)
    # Words without lam: MuPDF maps the font's lam and lam-alef glyphs to no Unicode (see make_samples.py).
    assert "مدير" in text and "تحية طيبة" in text
    assert any("Arabic" in font[3] for font in page.get_fonts())


def test_report_has_three_numbered_pages(samples):
    doc = pymupdf.open(samples / "report_multipage.pdf")
    assert doc.page_count == 3
    assert "Page 3 of 3" in doc[2].get_text()


def test_scan_is_one_image_and_no_text(samples):
    doc, page = open_page(samples, "scan_image_only.pdf")
    assert page.get_text().strip() == ""
    assert len(page.get_images()) == 1


def test_rotated_page(samples):
    doc, page = open_page(samples, "rotated_90.pdf")
    assert page.rotation == 90
    assert "Forklift" in page.get_text()


def test_form_has_red_stamp_and_ink_curves(samples):
    doc, page = open_page(samples, "form_stamp_signature.pdf")
    drawings = page.get_drawings()
    red = [d for d in drawings if d.get("color") and d["color"][0] > 0.6 and max(d["color"][1:]) < 0.4]
    assert red, "no red stamp drawings"
    curves = [d for d in drawings if any(item[0] == "c" for item in d["items"])]
    assert any(d.get("color") and d["color"][2] > 0.5 and d["color"][0] < 0.3 for d in curves), "no blue ink curve"
