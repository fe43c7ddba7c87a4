"""Opening PDFs: passwords, encryption notes, repair, and one clear outcome per file.

Library code raises ``PdfOpenError`` with a stable reason and a message that says the fix;
the render stage turns it into a skipped document and the run goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pymupdf
import yaml

from pipeline.errors import ConfigError
from pipeline.records import SkipReason
from pipeline.render.discover import NotARegularFileError, open_regular

# MuPDF prints repair chatter to stderr for every broken file; we record outcomes instead.
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)

_PDF_SIGNATURE = b"%PDF-"
_SIGNATURE_WINDOW = 1024  # readers accept the header anywhere in the first 1 KiB (Acrobat, pdf.js, MuPDF)


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


# Images that arrive named .pdf: MuPDF would open them as one-page documents, against the header rule.
_IMAGE_SIGNATURES = {b"II*\0": ("TIFF", ".tif"), b"MM\0*": ("TIFF", ".tif"), b"\x89PNG": ("PNG", ".png"),
                     b"\xff\xd8\xff": ("JPEG", ".jpg")}


def read_header(path: Path) -> bytes:
    """The first 1 KiB of a file, never opening a FIFO or device (raises NotARegularFileError, OSError)."""
    with open_regular(path) as fh:
        return fh.read(_SIGNATURE_WINDOW)


def not_a_pdf_detail(header: bytes) -> str:
    """Why a file is not a PDF, and what to do about it.

    >>> not_a_pdf_detail(b"II*\\0rest")
    'not a PDF (no %PDF- header in its first 1024 bytes) but a TIFF image: keep an image under its own extension (.tif)'
    >>> not_a_pdf_detail(b"hello")
    'not a PDF (no %PDF- header in its first 1024 bytes); remove it from the input folder'
    """
    reason = "not a PDF (no %PDF- header in its first 1024 bytes)"
    for magic, (kind, extension) in _IMAGE_SIGNATURES.items():
        if header.startswith(magic):
            return f"{reason} but a {kind} image: keep an image under its own extension ({extension})"
    return f"{reason}; remove it from the input folder"


@dataclass
class OpenedPdf:
    """An open, authenticated document, with what authenticating hides afterwards."""

    doc: pymupdf.Document
    opened_with_password: bool   # needs_pass before authenticating (is_encrypted turns False after it)

    def encryption_note(self) -> str | None:
        """Describe encryption: opened with a supplied password, or encrypted with an empty user one."""
        method = (self.doc.metadata or {}).get("encryption")
        if not method:
            return None
        if self.opened_with_password:
            return f"{method} (opened with a supplied password)"
        return f"{method} (empty user password: opened without one)"


def open_document(path: Path, passwords: Sequence[str] = ()) -> OpenedPdf:
    """Open and authenticate a PDF, ready for page access. Raises PdfOpenError.

    A file is a PDF when ``%PDF-`` occurs in its first 1024 bytes (the window PDF readers accept);
    anything else is ``not_a_pdf`` before MuPDF sees it. Authentication happens before anything
    reads ``page_count``: PyMuPDF reports 0 pages for a locked file, which would otherwise look
    like an empty document.
    """
    try:
        header = read_header(path)
    except NotARegularFileError as exc:
        raise PdfOpenError(SkipReason.NOT_A_REGULAR_FILE,
                           f"{exc.strerror}; never opened: remove it from the input folder") from exc
    except OSError as exc:
        raise PdfOpenError(SkipReason.UNREADABLE, f"cannot read the file: {exc.strerror}") from exc
    if _PDF_SIGNATURE not in header:
        raise PdfOpenError(SkipReason.NOT_A_PDF, not_a_pdf_detail(header))
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as exc:
        raise PdfOpenError(SkipReason.CORRUPT,
                           f"damaged beyond repair ({exc}); re-export or re-scan the original") from exc
    needs_pass = bool(doc.needs_pass)
    if needs_pass:
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
    return OpenedPdf(doc, opened_with_password=needs_pass)


def open_pdf(path: Path, passwords: Sequence[str] = ()) -> pymupdf.Document:
    """``open_document`` for readers that need only the pages. Raises PdfOpenError."""
    return open_document(path, passwords).doc


def info_dictionary(doc: pymupdf.Document) -> dict[str, str]:
    """The PDF's info dictionary, minus empty values and the encryption entry (kept separately)."""
    meta = doc.metadata or {}
    return {k: v for k, v in meta.items() if v and k != "encryption"}
