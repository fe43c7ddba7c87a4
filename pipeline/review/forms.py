"""The review form's side on the server: each task's Pydantic model, validation errors by field, diffs.

The form in the browser is generated from the same model's JSON Schema, and every save is validated
by the model itself: a label the teacher's answer would have failed with cannot be saved either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from pipeline.schemas import model_from_json_schema, schema_hash
from pipeline.tasks import TaskError, resolve_tasks


@dataclass(frozen=True)
class TaskForm:
    """One task definition the run labelled with: its model, JSON Schema and student prompt."""

    name: str
    prompt_hash: str
    schema_hash: str
    model: type[BaseModel]
    schema: dict
    student_prompt: str


def task_forms(rows) -> dict[tuple[str, str], TaskForm]:
    """(prompt_hash, schema_hash) -> TaskForm for each stored task definition (``RunStore.tasks()`` rows).

    A built-in task whose schema is unchanged uses its own model class; any other definition gets
    a model built from the JSON Schema stored with it, so a run labelled by an older or custom
    task is still validated by the schema its labels were made with.
    """
    forms = {}
    for row in rows:
        schema = json.loads(row["schema_json"])
        model = None
        try:
            (task,) = resolve_tasks([row["name"]])
            if schema_hash(task.model) == row["schema_hash"]:
                model = task.model
        except TaskError:
            pass
        if model is None:
            model = model_from_json_schema(row["name"].title().replace("-", "").replace("_", "") + "Label", schema)
        forms[(row["prompt_hash"], row["schema_hash"])] = TaskForm(
            row["name"], row["prompt_hash"], row["schema_hash"], model, schema, row["student_prompt"])
    return forms


def validation_errors(model: type[BaseModel], data: Any) -> tuple[dict | None, list[dict]]:
    """(the label as the model dumps it, []) or (None, errors), each error at its field's dotted path.

    >>> from pipeline.schemas import ContentLabel
    >>> _, errors = validation_errors(ContentLabel, {"languages": ["ar"], "direction": "up"})
    >>> [e["loc"] for e in errors][:2]
    ['direction', 'has_tables']
    """
    if not isinstance(data, dict):
        return None, [{"loc": "", "msg": "the label must be a JSON object"}]
    try:
        return model.model_validate(data).model_dump(mode="json"), []
    except ValidationError as exc:
        return None, [{"loc": ".".join(str(part) for part in error["loc"]), "msg": error["msg"]}
                      for error in exc.errors(include_url=False)]


def json_diff(before: Any, after: Any, path: str = "") -> list[dict]:
    """What changed between two labels, as {path, before, after} per changed leaf (or list length).

    >>> json_diff({"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 3], "c": "x"})
    [{'path': 'b.1', 'before': 2, 'after': 3}, {'path': 'c', 'before': None, 'after': 'x'}]
    """
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in list(before) + [k for k in after if k not in before]:
            out += json_diff(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))
        return out
    if isinstance(before, list) and isinstance(after, list):
        out = []
        for index in range(max(len(before), len(after))):
            sub = f"{path}.{index}" if path else str(index)
            out += json_diff(before[index] if index < len(before) else None,
                             after[index] if index < len(after) else None, sub)
        return out
    return [] if before == after else [{"path": path, "before": before, "after": after}]

