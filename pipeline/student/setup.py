"""The student's inputs for one extract run: the manifest's settings, with the user's overrides.

Every override that differs from what the student was trained on is kept, with a warning saying the
student never saw such inputs; without a manifest, docdistill's defaults are used, with a warning.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import ConfigError, TaskError
from pipeline.render.config import RenderConfig
from pipeline.schemas import SchemaFileError, model_from_json_schema
from pipeline.student.manifest import StudentSection, TaskSection
from pipeline.tasks import DEFAULT_TASKS, PROMPTS_DIR, Task, _class_name, load_task, resolve_tasks

RENDER_FLAGS = {"longest_side": "--longest-side", "max_pixels": "--max-pixels", "enhance": "--enhance",
                "enhance_pages": "--enhance-pages", "grayscale": "--grayscale", "image_format": "--format",
                "jpeg_quality": "--jpeg-quality"}


@dataclass(frozen=True)
class StudentSetup:
    render: RenderConfig
    tasks: tuple[Task, ...]
    max_image_side: int | None = None
    system_prompt: str | None = None
    manifest: str | None = None                    # the manifest file it came from
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return {"manifest": self.manifest, "render": self.render.settings(), "render_key": self.render.key(),
                "max_image_side": self.max_image_side, "system_prompt": bool(self.system_prompt),
                "tasks": [t.name for t in self.tasks], "warnings": list(self.warnings)}


def prompt_id(text: str | None) -> str | None:
    """A short hash of a system prompt for request identities (the text itself stays in the manifest).

    >>> prompt_id(None), prompt_id("You read documents.")
    (None, '67c703146d9646e1')
    """
    return hashlib.sha256(text.encode()).hexdigest()[:16] if text else None


def task_from_section(section: TaskSection, source: str) -> Task:
    """The task as trained: the built-in one when its student prompt and schema are the same (its Pydantic
    model, validators included), else a task built from the manifest's prompt and JSON Schema."""
    builtin = PROMPTS_DIR / section.name / "task.yaml"
    if builtin.is_file():
        task = load_task(builtin)
        if task.student_prompt == section.student_prompt and task.schema_hash == section.schema_hash:
            return task
    try:
        model = model_from_json_schema(_class_name(section.name), section.json_schema)
    except SchemaFileError as exc:
        raise ConfigError(f"{source}: task {section.name}'s schema cannot be used ({exc})") from None
    return Task(name=section.name, model=model, teacher_template="", student_prompt=section.student_prompt,
                source=source, schema_json=section.json_schema)


def _render(section: StudentSection | None, overrides: dict, warnings: list[str]) -> RenderConfig:
    if section is None or section.render is None:
        warnings.append("no --dataset manifest: pages are rendered with docdistill's defaults (and the flags "
                        "given); if the student was trained on other settings its answers suffer: pass --dataset")
        return RenderConfig(**overrides)
    recorded = section.render
    if recorded.other_keys:
        warnings.append(f"{sum(recorded.other_keys.values())} training page(s) were rendered with other settings; "
                        f"using those of the {recorded.pages} others")
    if recorded.settings is None:            # only the hash is known: the flags must reproduce it
        config = RenderConfig(**overrides)
        if config.key() != recorded.key:
            raise ConfigError("the manifest records only the hash of the training pages' render settings "
                              f"({recorded.key}), not the settings (the run was rendered by an older docdistill, "
                              "or merged): give the render flags the run was made with (--longest-side, --enhance, "
                              f"--format ...); these give {config.key()}")
        return config
    base = RenderConfig.from_settings(recorded.settings).settings()
    for name, value in overrides.items():
        if value != base[name]:
            warnings.append(f"{RENDER_FLAGS.get(name, name)} {value}: the student was trained on {base[name]}, "
                            "it never saw such images")
    if "longest_side" in overrides and "max_pixels" not in overrides and \
            base["max_pixels"] == base["longest_side"] ** 2:   # distill's default rule: the cap follows the side
        overrides = {**overrides, "max_pixels": overrides["longest_side"] ** 2}
    return RenderConfig(**{**base, **overrides})


def _tasks(section: StudentSection | None, items: list[str] | None, source: str, warnings: list[str]) -> list[Task]:
    trained = {t.name: t for t in (section.tasks if section else [])}
    if not items:
        if section is None:
            return resolve_tasks(list(DEFAULT_TASKS))
        if not trained:
            raise ConfigError(f"{source} lists no tasks (the dataset has no records); pass --task")
        items = list(trained)
    tasks: list[Task] = []
    for item in items:
        if item in trained:
            task = task_from_section(trained[item], source)
        else:
            (task,) = resolve_tasks([item])
            known = trained.get(task.name)
            if section is not None and known is None:
                warnings.append(f"task {task.name}: the student was not trained on it")
            elif known is not None and task.student_prompt != known.student_prompt:
                warnings.append(f"task {task.name}: its student prompt differs from the one the student was "
                                "trained on")
        if any(t.name == task.name for t in tasks):
            raise TaskError(f"task {task.name!r} is given twice")
        if task.name in trained and trained[task.name].prompt_variants > 1:
            warnings.append(f"task {task.name}: the dataset mixes {trained[task.name].prompt_variants} student "
                            "prompts; using the one recorded in the manifest")
        tasks.append(task)
    return tasks


def resolve_setup(section: StudentSection | None, manifest: Path | None, render_overrides: dict,
                  tasks: list[str] | None = None, max_image_side: int | None = None,
                  system_prompt: str | None = None) -> StudentSetup:
    """The setup for a run. ``render_overrides``: RenderConfig fields given as flags; ``max_image_side``
    0 and ``system_prompt`` "" mean none, None means as trained."""
    warnings: list[str] = []
    source = str(manifest) if manifest else "the defaults"
    render = _render(section, dict(render_overrides), warnings)
    trained_side = section.max_image_side if section else None
    trained_system = section.system_prompt if section else None
    side = trained_side if max_image_side is None else (max_image_side or None)
    if side != trained_side and section is not None:
        warnings.append(f"--max-image-side {side or 0}: the student was trained on {trained_side or 'full-size'} "
                        "images, it never saw such images")
    if side is not None and side < 64:
        raise ConfigError("--max-image-side must be >= 64 (or 0: full-size images)")
    system = trained_system if system_prompt is None else (system_prompt or None)
    if system != trained_system and section is not None:
        warnings.append("--system-prompt: the student was trained with "
                        f"{'another system prompt' if trained_system else 'no system prompt'}")
    return StudentSetup(render=render, tasks=tuple(_tasks(section, tasks, source, warnings)), max_image_side=side,
                        system_prompt=system, manifest=str(manifest) if manifest else None, warnings=tuple(warnings))
