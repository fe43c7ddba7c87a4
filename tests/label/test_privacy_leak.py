"""0 planted identifiers reach the teacher: the whole evaluation set (12 generated pages with planted
personal data, English and Arabic with Arabic-Indic digits, and a scanned copy of each) goes through
``python -m pipeline.distill`` against the provider stub under the default policy; every request body
the stub received is searched for every planted value in every form (ASCII and Arabic-Indic digits,
with and without separators), and every image sent is read back by OCR and searched the same way."""

from __future__ import annotations

import io
import json
import os
import re

import pytest

from tests.label.test_label import CONTENT, KEY, METADATA, distill
from tests.support import privacy_set as ps
from tests.support.provider_stub import ProviderStub, echo_placeholders

AR = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
ASCII = str.maketrans("٠١٢٣٤٥٦٧٨٩", "0123456789")


def forms(value: str) -> set[str]:
    """Every way a planted value can be written: its digits in either script, separators kept or dropped.

    >>> sorted(forms("123-45-6789"))
    ['123-45-6789', '123456789', '١٢٣-٤٥-٦٧٨٩', '١٢٣٤٥٦٧٨٩']
    """
    ascii_value = value.translate(ASCII)
    bare = re.sub(r"[\s\-.()/]", "", ascii_value)
    return {v for v in (ascii_value, bare, ascii_value.translate(AR), bare.translate(AR)) if len(v) >= 6} or {value}


def _squash(text: str) -> str:
    return re.sub(r"[\s\-.()/]", "", text.translate(ASCII)).lower()


@pytest.mark.slow
def test_no_planted_value_reaches_the_stub_teacher(tmp_path):
    pytest.importorskip("pytesseract")
    from PIL import Image
    import pytesseract

    from pipeline.teachers import tesseract_version_or_none

    if tesseract_version_or_none() is None:
        pytest.skip("Tesseract is not installed: the scans cannot be read before sending, nor the images after")
    pages = ps.planted_pages()
    for page in pages:
        pdf = ps.write_pdf(page, tmp_path / "in" / f"{page.name}.pdf")
        ps.scan_copy(pdf, tmp_path / "in" / f"{page.name}_scan.png")
    secrets = [item for page in pages for item in page.planted if item.cls != "organisational"]
    env = {**{k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}, "GEMINI_API_KEY": KEY}
    with ProviderStub(echo_placeholders(CONTENT, METADATA, read_image=True)) as stub:
        result = distill(str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--teacher", "gemini",
                         "--base-url", stub.url, "--task", "content", "--longest-side", "1400", "--anchor", env=env)
        requests = list(stub.requests)
    summary = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr[-2000:]
    pages_by_action = summary["label"]["privacy"]["pages"]
    assert sum(pages_by_action.values()) == 24 and pages_by_action.get("redact", 0) >= 6, pages_by_action
    assert len(requests) == pages_by_action.get("redact", 0) + pages_by_action.get("allow", 0)

    bodies = [r.raw.decode("utf-8") for r in requests]
    in_bodies = [(item.kind, f) for item in secrets for f in forms(item.value) for body in bodies if f in body]
    seen = [pytesseract.image_to_string(Image.open(io.BytesIO(r.image_bytes)), lang="ara+eng") for r in requests]
    in_images = [(item.kind, i) for item in secrets for i, text in enumerate(seen)
                 if _squash(item.value) in _squash(text)]
    assert in_bodies == [] and in_images == []
    assert len(secrets) == 27 and all(r.image_bytes for r in requests)
    # The search can see what is there: the issuer's own mailbox (organisational, allowed) is in the bodies
    # (anchor text) and on the images, as the default policy means it to be.
    assert any("info@northwind-trading.example" in body for body in bodies)
    assert any("northwind-trading" in text for text in seen)
    assert any("[EMAIL_1]" in body for body in bodies) and any("[CARD_1]" in body for body in bodies)
