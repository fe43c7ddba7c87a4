"""Arabic pages under the privacy gate: the text layer reads Arabic-Indic digit runs in printed order, and
OCR words it could not read on an Arabic line make a scan unverified (not sent by default)."""

from __future__ import annotations

import pymupdf

from pipeline.label.privacy import find_spans
from pipeline.label.privacy.gate import ocr_too_little
from pipeline.label.privacy.pagewords import _unreadable, join_words, text_layer_words
from pipeline.teachers.tesseract.engine import OcrWord
from tests.support import privacy_set as ps


def test_the_text_layer_reads_arabic_indic_digits_as_printed(tmp_path):
    page = next(p for p in ps.planted_pages() if p.arabic)
    with pymupdf.open(ps.write_pdf(page, tmp_path / "ar.pdf")) as doc:
        raw_words = [w[4] for w in doc[0].get_text("words")]
        words = text_layer_words(doc[0], 1240, 1754)
    nid = page.planted[0].value
    assert nid[::-1] in raw_words and nid not in raw_words          # what MuPDF hands back: the run reversed
    assert nid in words.text and page.planted[1].value in words.text
    assert {s.kind for s in find_spans(words.text)} >= {"national_id_eg", "phone"}


def test_unreadable_words_on_an_arabic_line_make_a_scan_unverified():
    arabic = [OcrWord("الرقم", 0, 0, 9, 9, 91, 1, 1, 1), OcrWord("YAPIPIEAAVA:", 10, 0, 9, 9, 14, 1, 1, 1)]
    english = [OcrWord("Invoice", 0, 0, 9, 9, 93, 1, 1, 2), OcrWord("Tota1", 0, 0, 9, 9, 40, 1, 1, 2),
               OcrWord("IN-2025", 0, 0, 9, 9, 45, 1, 1, 2)]
    assert _unreadable(arabic, arabic_line=True) == 1
    assert _unreadable(english, arabic_line=False) == 1                # digits in it: "IN-2025"; "Tota1" is a word
    words = join_words("ocr", [[("Invoice", (0, 0, 9, 9)), ("No", (10, 0, 19, 9)), ("42", (20, 0, 29, 9))]], 100, 100,
                       mean_conf=0.9)
    assert ocr_too_little(words) == ""
    words.unreadable = 2
    assert ocr_too_little(words).startswith("unverified: OCR could not read 2 word(s) that may be numbers")
