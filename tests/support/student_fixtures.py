"""A trained-on dataset folder, made fast: distill (offline textlayer teacher) + build_dataset, in process."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from pipeline import build_dataset, distill
from pipeline.tasks import resolve_tasks
from tests.conftest import make_pdf
from tests.label.test_label import CONTENT, METADATA
from tests.support.provider_stub import Behaviour, StubRequest

SYSTEM_PROMPT = "You read documents for the records office."


def make_dataset(root: Path, *build_args: str, render_args: tuple[str, ...] = ("--longest-side", "320")) -> Path:
    """Three labelled documents -> ``root/ds`` (LLaMA-Factory validation skipped: not what is tested here)."""
    for i in range(3):
        make_pdf(root / "train_pdfs" / f"doc{i}.pdf", pages=2, text=f"Registry entry {i}")
    assert distill.main([str(root / "train_pdfs"), "--out", str(root / "run"), "--teacher", "textlayer",
                         "--no-progress", *render_args]) == 0
    assert build_dataset.main([str(root / "run"), "--out", str(root / "ds"), "--val-fraction", "0", "--no-validate",
                               *build_args]) == 0
    return root / "ds"


def manifest(ds: Path) -> dict:
    return json.loads((ds / "manifest.json").read_text())


@functools.lru_cache(maxsize=1)
def _prompts() -> tuple[str, str]:
    content, metadata = resolve_tasks(["content", "metadata"])
    return content.student_prompt, metadata.student_prompt


def by_task(request: StubRequest) -> Behaviour:
    """A valid answer for the task whose student prompt the request carries."""
    content, metadata = _prompts()
    text = request.prompt_text
    if content in text:
        return Behaviour.ok(CONTENT)
    assert metadata in text, text
    return Behaviour.ok(METADATA)
