"""Opening PDFs: passwords, encryption notes, repair, and one clear outcome per file.

Library code raises ``PdfOpenError`` with a stable reason and a message that says the fix;
the render stage turns it into a skipped document and the run goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pymupdf
import yaml

from pipeline.errors import ConfigError
from pipeline.records import SkipReason

# MuPDF prints repair chatter to stderr for every broken file; we record outcomes instead.
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)

_PDF_SIGNATURE = b"%PDF-"
_SIGNATURE_WINDOW = 1024  # the PDF spec lets the header start anywhere in the first 1 KiB


class PdfOpenError(Exception):
    def __init__(self, reason: SkipReason, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def load_passwords_file(path: Path) -> dict[str, str]:
    """Read a JSON or YAML map of file name (or path relative to the input folder) -> password."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--passwords file {path} cannot be read: {exc.strerror}") from exc
    try:
        # YAML is a superset of JSON, so one parser reads both.
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--passwords file {path} is not valid JSON/YAML: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ConfigError(f"--passwords file {path} must be a map of file name -> password, "
                          f'e.g. {{"contract.pdf": "secret"}}')
    return {k: str(v) for k, v in data.items()}


def candidate_passwords(rel_path: str, by_name: dict[str, str], shared: Sequence[str]) -> list[str]:
    """Passwords to try for one file: its own entry (by relative path, then file name), then shared ones.

    >>> candidate_passwords("a/b.pdf", {"b.pdf": "x"}, ["y", "x"])
    ['x', 'y']
    """
    ordered = [by_name[k] for k in (rel_path, Path(rel_path).name) if k in by_name]
    ordered += list(shared)
    return list(dict.fromkeys(ordered))


def has_pdf_signature(path: Path) -> bool:
    with open(path, "rb") as fh:
        return _PDF_SIGNATURE in fh.read(_SIGNATURE_WINDOW)


def open_pdf(path: Path, passwords: Sequence[str] = ()) -> pymupdf.Document:
    """Open and authenticate a PDF, ready for page access. Raises PdfOpenError.

    Authentication happens before anything reads ``page_count``: PyMuPDF reports 0 pages for a
    locked file, which would otherwise look like an empty document.
    """
    try:
        signed = has_pdf_signature(path)
    except OSError as exc:
        raise PdfOpenError(SkipReason.UNREADABLE, f"cannot read the file: {exc.strerror}") from exc
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as exc:
        if not signed:
            raise PdfOpenError(SkipReason.NOT_A_PDF,
                               "not a PDF (no %PDF- header); remove it from the input folder") from exc
        raise PdfOpenError(SkipReason.CORRUPT,
                           f"damaged beyond repair ({exc}); re-export or re-scan the original") from exc
    if doc.needs_pass:
        if not passwords:
            doc.close()
            raise PdfOpenError(SkipReason.NEEDS_PASSWORD,
                               "encrypted: give its password with --password or --passwords FILE")
        if not any(doc.authenticate(pw) for pw in passwords):
            doc.close()
            raise PdfOpenError(SkipReason.WRONG_PASSWORD,
                               f"encrypted: none of the {len(passwords)} password(s) given opens it; "
                               "check --password / --passwords FILE")
    if doc.page_count == 0:
        repaired = bool(getattr(doc, "is_repaired", False))
        doc.close()
        if repaired:
            raise PdfOpenError(SkipReason.CORRUPT, "damaged: MuPDF repaired the file but no page could be "
                                                   "recovered; re-export the original")
        raise PdfOpenError(SkipReason.ZERO_PAGES, "the PDF has no pages")
    return doc


def encryption_note(doc: pymupdf.Document) -> str | None:
    """Describe encryption, including the 'empty user password' case where is_encrypted is False."""
    method = (doc.metadata or {}).get("encryption")
    if not method:
        return None
    if not doc.is_encrypted:
        return f"{method} (empty user password: opened without one)"
    return f"{method} (opened with a password)"


def info_dictionary(doc: pymupdf.Document) -> dict[str, str]:
    """The PDF's info dictionary, minus empty values and the encryption entry (kept separately)."""
    meta = doc.metadata or {}
    return {k: v for k, v in meta.items() if v and k != "encryption"}
