"""Finding input PDFs and identifying them by content."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

_HASH_CHUNK = 1 << 20


def iter_pdf_paths(root: Path) -> Iterator[Path]:
    """Every ``*.pdf`` file under root (any case, recursively), sorted for a deterministic run order.

    Hidden folders (``.git``, ``.venv``) are not searched; symlinked files are followed.
    """
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.lower().endswith(".pdf") and not name.startswith("."):
                path = Path(dirpath) / name
                if path.is_file():
                    found.append(path)
    yield from sorted(found)


def file_sha256(path: Path) -> str:
    """Content hash of a file, streamed: the document identity (a renamed copy is the same document)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
