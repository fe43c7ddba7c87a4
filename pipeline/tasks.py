"""Tasks: a name, a long teacher prompt, a short student prompt and a Pydantic schema.

Every task is a folder with a ``task.yaml``; the built-in ones live in ``prompts/`` (``content``,
``metadata`` and the worked custom example ``receipt``), and ``--task FILE`` loads any other::

    name: receipt
    schema: schema.json              # a JSON Schema file, or "package.module:ClassName"
    teacher_prompt: teacher.md       # may quote {schema}: replaced by the schema's JSON text (see below)
    student_prompt: student.md       # short: the fine-tuned student learns the format itself

The student prompt is what training data and evaluation use; the teacher prompt only goes to
teachers. Both prompt texts and the schema are hashed into each label's identity.

``{schema}`` is replaced by the schema's JSON text (``schema_text``: no titles) where the teacher quotes it
(``Teacher.quotes_schema``); a teacher whose request carries the whole schema, cached with the prompt,
gets SCHEMA_ENFORCED in its place, since the API already bills and enforces the same schema, field
descriptions included. Either way the prompt comes from the same template and the same model, so the
label's identity (``prompt_hash``, ``schema_hash``) does not depend on which form was sent.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel

from pipeline.schemas import SchemaFileError, model_from_json_schema, schema_hash, schema_text
from pipeline.errors import TaskError  # noqa: F401 (re-exported)

PROMPTS_DIR = Path(os.environ.get("DOCDISTILL_PROMPTS", Path(__file__).resolve().parents[1] / "prompts"))
DEFAULT_TASKS = ("content", "metadata")
# What stands for {schema} when the provider enforces the schema: the schema text would be sent twice.
SCHEMA_ENFORCED = "(given with this request as its response schema, field descriptions included)"
ANCHOR_MAX_CHARS = 4000  # enough for a dense page; a bounded excerpt keeps the prompt cost predictable


@dataclass(frozen=True)
class Task:
    name: str
    model: type[BaseModel]
    teacher_template: str
    student_prompt: str
    source: str = ""                     # the task.yaml it came from
    schema_json: dict = field(default_factory=dict, compare=False)

    @property
    def schema_hash(self) -> str:
        return schema_hash(self.model)

    @property
    def prompt_hash(self) -> str:
        """Hash of both prompt texts (16 hex): editing either re-labels the task's pages."""
        joined = f"{self.teacher_template}\x00{self.student_prompt}"
        return hashlib.sha256(joined.encode()).hexdigest()[:16]

    def teacher_prompt(self, anchor_text: str | None = None, quote_schema: bool = True) -> str:
        """The full teacher prompt, with the schema text (``quote_schema``; else SCHEMA_ENFORCED: the
        provider gets the schema as the response schema) and an optional text-layer anchor."""
        prompt = self.teacher_template.replace("{schema}", schema_text(self.model) if quote_schema else SCHEMA_ENFORCED)
        if anchor_text:
            excerpt = anchor_text[:ANCHOR_MAX_CHARS]
            prompt += ("\n\n## Text layer of this page (from the PDF itself)\n"
                       "Use it to get names, numbers and spellings exactly right; the image is the "
                       "authority on layout and on anything missing here.\n<text_layer>\n"
                       f"{excerpt}\n</text_layer>")
        return prompt

    def parse(self, data: dict) -> BaseModel:
        """Validate an answer object; raises pydantic.ValidationError."""
        return self.model.model_validate(data)


def _read(base: Path, name: str, what: str) -> str:
    path = base / name
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TaskError(f"{what} {path} cannot be read: {exc.strerror}") from exc


def _load_schema(base: Path, spec: str, task_name: str) -> type[BaseModel]:
    if ":" in spec and not spec.endswith(".json"):
        module_name, _, class_name = spec.partition(":")
        try:
            model = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise TaskError(f"task {task_name}: schema {spec!r} cannot be imported ({exc}); "
                            "give 'package.module:ClassName' importable from this environment") from exc
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TaskError(f"task {task_name}: {spec!r} is not a Pydantic model class")
        return model
    path = base / spec
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
        return model_from_json_schema(_class_name(task_name), schema)
    except OSError as exc:
        raise TaskError(f"task {task_name}: schema file {path} cannot be read: {exc.strerror}") from exc
    except (json.JSONDecodeError, SchemaFileError) as exc:
        raise TaskError(f"task {task_name}: schema file {path} is not a usable JSON Schema: {exc}") from exc


def _class_name(task_name: str) -> str:
    """
    >>> _class_name("bank-statement")
    'BankStatementLabel'
    """
    return "".join(part.title() for part in task_name.replace("-", "_").split("_")) + "Label"


def load_task(config: Path) -> Task:
    """Load one task from its task.yaml (paths inside are relative to that file)."""
    try:
        spec = yaml.safe_load(config.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TaskError(f"task file {config} cannot be read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise TaskError(f"task file {config} is not valid YAML: {exc}") from exc
    missing = [k for k in ("name", "schema", "teacher_prompt", "student_prompt") if not (spec or {}).get(k)]
    if missing:
        raise TaskError(f"task file {config} lacks {', '.join(missing)}")
    base = config.parent
    model = _load_schema(base, str(spec["schema"]), spec["name"])
    return Task(name=spec["name"], model=model,
                teacher_template=_read(base, spec["teacher_prompt"], "teacher prompt"),
                student_prompt=_read(base, spec["student_prompt"], "student prompt"),
                source=str(config), schema_json=model.model_json_schema())


def builtin_task_names() -> list[str]:
    return sorted(p.parent.name for p in PROMPTS_DIR.glob("*/task.yaml"))


def resolve_tasks(names: list[str]) -> list[Task]:
    """Tasks by built-in name or by path to a task.yaml; duplicates are an error."""
    tasks: list[Task] = []
    for item in names:
        path = Path(item)
        if path.suffix in (".yaml", ".yml") or path.is_file():
            task = load_task(path)
        elif (PROMPTS_DIR / item / "task.yaml").is_file():
            task = load_task(PROMPTS_DIR / item / "task.yaml")
        else:
            raise TaskError(f"unknown task {item!r}: use one of {', '.join(builtin_task_names())} "
                            "or the path to a task.yaml")
        if any(t.name == task.name for t in tasks):
            raise TaskError(f"task {task.name!r} is given twice")
        tasks.append(task)
    return tasks
