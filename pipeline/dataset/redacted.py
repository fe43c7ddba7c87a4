"""``build_dataset --train-redacted-mismatches``: a page whose placeholders did not come back exactly
(``redaction_mismatch``) trains on what the teacher actually saw, the redacted image that was sent
(kept by the label stage in ``redacted/``), with the teacher's label and its placeholders as they are.

Without the flag such pages stay out of the dataset (counted ``outcome_redaction_mismatch``): the
label does not match the original image. With it, the student learns to transcribe a placeholder
box as a placeholder, and never sees a value the teacher did not see either.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

REDACTION_MISMATCH = "redaction_mismatch"


class RedactedMismatches:
    """The redaction_mismatch labels taken in place of a missing valid label, and their images."""

    def __init__(self, images: dict[tuple[str, int], str], run_dir: Path, enabled: bool):
        self.images = {k: v for k, v in images.items() if (run_dir / v).is_file()} if enabled else {}
        self.used: dict[tuple[str, str], str] = {}       # (image sha256, task) -> the redacted image

    def take(self, row: sqlite3.Row, key: tuple[str, str], newest: dict) -> bool:
        """Take ``row`` as the label of ``key`` when it is a mismatch with its redacted image kept and no valid
        label came before it; a valid label coming later replaces it (``valid``)."""
        image = self.images.get((row["doc_id"], row["page_index"]))
        if row["outcome"] != REDACTION_MISMATCH or image is None or (key in newest and key not in self.used):
            return False
        newest[key], self.used[key] = row, image
        return True

    def valid(self, key: tuple[str, str]) -> None:
        self.used.pop(key, None)

    def image(self, key: tuple[str, str], reviewed: bool) -> str:
        """The image to train ``key`` on instead of the page's ("": the page's; a reviewed label is the page's)."""
        return "" if reviewed else self.used.get(key, "")
