"""What the student was trained on, as build_dataset records it in ``manifest.json`` under ``student``.

The section is everything extract must reproduce for the student to see what it saw in training:
the render settings of the training pages (by their render key), the resize of ``--max-image-side``,
the system prompt, and each task's student prompt and schema. It is written and read here, so the
format lives in one place (Pydantic at both ends)::

    "student": {"render": {"key": "3f0c...", "settings": {"longest_side": 1536, ...}, "pages": 812},
                "max_image_side": 896, "system_prompt": null, "template": "gemma3",
                "tasks": [{"name": "content", "student_prompt": "Transcribe ...", "schema": {...},
                           "prompt_hash": "...", "schema_hash": "..."}]}

A copy of ``manifest.json`` shipped beside an exported model serves as well as the dataset folder.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.errors import ConfigError
from pipeline.render.config import RENDER_SETTINGS_META
from pipeline.store import RunStore

MANIFEST_FILENAME = "manifest.json"


class RenderSection(BaseModel):
    key: str                                   # the render key of most training pages
    settings: dict | None = None               # None: the run did not record them (an older docdistill, a merge)
    pages: int = 0
    other_keys: dict[str, int] = Field(default_factory=dict)   # pages rendered with other settings: key -> pages


class TaskSection(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    name: str
    student_prompt: str
    json_schema: dict = Field(alias="schema")
    prompt_hash: str
    schema_hash: str
    prompt_variants: int = 1                   # > 1: the dataset mixes student prompts for this task


class StudentSection(BaseModel):
    render: RenderSection | None = None        # None: the dataset has no records
    max_image_side: int | None = None
    system_prompt: str | None = None
    template: str = ""
    tasks: list[TaskSection] = Field(default_factory=list)


def student_section(store: RunStore, samples: list[tuple], task_meta: dict[str, dict], max_image_side: int | None,
                    system_prompt: str | None, template: str) -> dict:
    """The manifest's ``student`` section for a dataset of ``samples`` (doc, page, task, label, prompt)."""
    used: dict[str, set[int]] = {}
    for sample in samples:
        used.setdefault(sample[0], set()).add(sample[1])
    keys: Counter = Counter()              # render key -> training pages rendered with it
    for doc_id, pages in used.items():
        states = store.page_states(doc_id)
        keys.update(states[i][1] for i in pages if i in states)
    render = None
    if keys:
        (key, pages), *others = keys.most_common()
        settings = store.get_meta(RENDER_SETTINGS_META + key)
        render = RenderSection(key=key, settings=json.loads(settings) if settings else None, pages=pages,
                               other_keys=dict(others))
    definitions = store.tasks()
    variants = Counter(task for task, _ in {(s[2], s[4]) for s in samples})
    tasks = []
    for name, meta in sorted(task_meta.items()):
        row = definitions[(meta["prompt_hash"], meta["schema_hash"])]
        tasks.append(TaskSection(name=name, student_prompt=row["student_prompt"], schema=json.loads(row["schema_json"]),
                                 prompt_hash=meta["prompt_hash"], schema_hash=meta["schema_hash"],
                                 prompt_variants=variants[name]))
    section = StudentSection(render=render, max_image_side=max_image_side, system_prompt=system_prompt,
                             template=template, tasks=tasks)
    return section.model_dump(by_alias=True)


def load_student_section(path: Path) -> tuple[StudentSection, Path]:
    """The ``student`` section of a dataset folder's manifest (or of a manifest file), and the file read."""
    path = Path(path)
    file = path / MANIFEST_FILENAME if path.is_dir() else path
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        what = f"no {MANIFEST_FILENAME} in it" if path.is_dir() else "not found"
        raise ConfigError(f"--dataset {path}: {what}; "
                          "give the dataset folder build_dataset wrote, or the copy of its manifest.json shipped "
                          "with the model") from None
    except OSError as exc:
        raise ConfigError(f"--dataset {path}: {file} cannot be read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--dataset {path}: {file} is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or "student" not in manifest:
        raise ConfigError(f"{file} does not record what the student was trained on (written by an older "
                          "docdistill): run python -m pipeline.build_dataset RUN_DIR --out DATASET_DIR again "
                          "with the same flags (same records, same split), then pass that folder")
    try:
        return StudentSection.model_validate(manifest["student"]), file
    except ValidationError as exc:
        raise ConfigError(f"{file}: the student section is not what docdistill writes ({exc.error_count()} "
                          f"error(s), first: {exc.errors()[0]['msg']} at "
                          f"{'.'.join(map(str, exc.errors()[0]['loc']))})") from None
