"""The gate's own reader of Arabic-Indic digit runs on scans (Tesseract's ara model has only ٠ and ١)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.label.privacy.digits import read_digit_run
from pipeline.label.privacy.gate import ocr_too_little, unclaimed_rereads
from pipeline.label.privacy.pagewords import join_words

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _crop(text: str, size: int = 40) -> np.ndarray:
    """A grey crop of ``text`` drawn in DejaVu Sans (not the templates' font), blurred a little, as a scan's."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    if not DEJAVU.is_file():
        pytest.skip(f"DejaVu Sans is not at {DEJAVU}")
    font = ImageFont.truetype(str(DEJAVU), size)
    img = Image.new("L", (size * (len(text) + 2), size * 2), 255)
    ImageDraw.Draw(img).text((size // 2, size // 3), text, font=font, fill=0)
    return np.asarray(img.filter(ImageFilter.GaussianBlur(1.0)))


def test_reads_every_digit_in_another_font():
    run = "٠١٢٣٤٥٦٧٨٩"
    got = read_digit_run(_crop(run))
    assert got is not None and got[0] == run, got
    assert 50 <= got[1] <= 100


def test_a_label_colon_at_the_edge_is_left_out_letters_are_no_digits():
    assert read_digit_run(_crop(":٢٩٩٠١٠٤"))[0] == "٢٩٩٠١٠٤"
    assert read_digit_run(_crop("شركة الواحة")) is None
    assert read_digit_run(_crop("٢٩ شركة ٠١")) is None        # a letter inside the run: not a digit run
    assert read_digit_run(_crop("١٢")) is None                 # too short to be worth a guess


def test_a_long_reread_run_no_detector_claims_keeps_the_scan_unverified():
    box = (0, 0, 10, 10)
    lines = [[(w, box) for w in "Invoice total amount due".split()], [("شركة", box), ("٠١٢٣٤٥٦٧٨", box)],
             [("Date", box), ("2025-03-12", box)]]
    words = join_words("ocr", lines, 100, 100, mean_conf=0.9)
    start = words.text.index("٠")
    words.reread = [(start, start + 9)]
    assert unclaimed_rereads(words) == [(start, start + 9)]
    assert ocr_too_little(words).startswith("unverified")
    lines[1] = [("الرقم", box), ("القومي:", box), ("٢٩٩٠١٠٤٠١٥٤١١٥", box)]   # a labelled national ID: claimed
    words = join_words("ocr", lines, 100, 100, mean_conf=0.9)
    start = words.text.index("٢٩٩")
    words.reread = [(start, start + 14)]
    assert unclaimed_rereads(words) == [] and ocr_too_little(words) == ""
