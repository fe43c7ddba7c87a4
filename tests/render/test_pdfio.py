from __future__ import annotations

import os

import pytest

from pipeline.errors import ConfigError
from pipeline.render.pdfio import PdfOpenError, candidate_passwords, load_passwords_file, open_document, open_pdf
from pipeline.records import SkipReason
from tests.conftest import make_pdf


def test_passwords_file_json_and_yaml(tmp_path):
    (tmp_path / "p.json").write_text('{"a.pdf": "x", "dir/b.pdf": 1234}')
    assert load_passwords_file(tmp_path / "p.json") == {"a.pdf": "x", "dir/b.pdf": "1234"}
    (tmp_path / "p.yaml").write_text("a.pdf: x\n")
    assert load_passwords_file(tmp_path / "p.yaml") == {"a.pdf": "x"}


@pytest.mark.parametrize("content, fragment", [("[1, 2]", "must be a map"), ("{a: [", "not valid JSON/YAML")])
def test_bad_passwords_file_fails_fast_naming_the_file(tmp_path, content, fragment):
    path = tmp_path / "pw.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=fragment) as info:
        load_passwords_file(path)
    assert str(path) in str(info.value)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_passwords_file(tmp_path / "missing.yaml")


def test_candidate_passwords_prefer_the_files_own_entry():
    assert candidate_passwords("x/y.pdf", {"x/y.pdf": "a", "y.pdf": "b"}, ["c", "a"]) == ["a", "b", "c"]
    assert candidate_passwords("z.pdf", {}, []) == []


def test_authenticates_before_counting_pages(tmp_path):
    path = make_pdf(tmp_path / "locked.pdf", pages=3, password="pw")
    with pytest.raises(PdfOpenError) as info:
        open_pdf(path)
    assert info.value.reason is SkipReason.NEEDS_PASSWORD
    with open_pdf(path, ["nope", "pw"]) as doc:
        assert doc.page_count == 3


def test_not_a_pdf_vs_corrupt(tmp_path):
    (tmp_path / "a.pdf").write_bytes(b"hello world")
    (tmp_path / "b.pdf").write_bytes(b"%PDF-1.7\n%\xff\xff\n1 0 obj <<>> endobj\n")
    with pytest.raises(PdfOpenError) as info:
        open_pdf(tmp_path / "a.pdf")
    assert info.value.reason is SkipReason.NOT_A_PDF
    with pytest.raises(PdfOpenError) as info:
        open_pdf(tmp_path / "b.pdf")
    assert info.value.reason in (SkipReason.CORRUPT, SkipReason.ZERO_PAGES)


def test_an_image_renamed_pdf_is_not_a_pdf_and_the_detail_says_keep_its_extension(tmp_path):
    """The rule: a PDF has ``%PDF-`` in its first 1024 bytes (as readers accept it); MuPDF would
    otherwise open a TIFF named .pdf as a one-page document."""
    import cv2
    import numpy as np

    ok, tiff = cv2.imencode(".tiff", np.full((32, 32, 3), 200, np.uint8))
    assert ok
    (tmp_path / "scan.pdf").write_bytes(tiff.tobytes())
    with pytest.raises(PdfOpenError) as info:
        open_pdf(tmp_path / "scan.pdf")
    assert info.value.reason is SkipReason.NOT_A_PDF
    assert "TIFF" in info.value.detail and ".tif" in info.value.detail


def test_the_header_may_start_anywhere_in_the_first_1024_bytes(tmp_path):
    pdf = make_pdf(tmp_path / "real.pdf").read_bytes()
    (tmp_path / "prefixed.pdf").write_bytes(b"\0" * 1000 + pdf)
    with open_pdf(tmp_path / "prefixed.pdf") as doc:
        assert doc.page_count == 1
    (tmp_path / "late.pdf").write_bytes(b"\0" * 1030 + pdf)
    with pytest.raises(PdfOpenError) as info:
        open_pdf(tmp_path / "late.pdf")
    assert info.value.reason is SkipReason.NOT_A_PDF


@pytest.mark.timeout(30)
def test_a_fifo_is_never_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.pdf")   # opening it for reading would block until a writer comes
    with pytest.raises(PdfOpenError) as info:
        open_pdf(tmp_path / "pipe.pdf")
    assert info.value.reason is SkipReason.NOT_A_REGULAR_FILE


def test_encryption_note_says_how_the_file_was_opened(tmp_path):
    """is_encrypted turns False once authenticated: the note must come from before authenticating."""
    locked = make_pdf(tmp_path / "locked.pdf", password="pw")
    opened = open_document(locked, ["pw"])
    with opened.doc:
        assert opened.encryption_note().endswith("(opened with a supplied password)")
    plain = open_document(make_pdf(tmp_path / "plain.pdf"))
    with plain.doc:
        assert plain.encryption_note() is None
