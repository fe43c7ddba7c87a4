from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.render.pdfio import PdfOpenError, candidate_passwords, load_passwords_file, open_pdf
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
