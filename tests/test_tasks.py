"""Tasks: built-ins load, custom tasks from a task.yaml (JSON Schema file or module:Class), clear errors."""

from __future__ import annotations

import json
import sys

import pytest
from pydantic import ValidationError

from pipeline.schemas import schema_text
from pipeline.tasks import DEFAULT_TASKS, TaskError, builtin_task_names, load_task, resolve_tasks


def test_builtin_tasks_quote_their_own_schema_in_the_prompt():
    assert {"content", "metadata", "receipt"} <= set(builtin_task_names())
    for task in resolve_tasks(list(DEFAULT_TASKS)):
        prompt = task.teacher_prompt()
        assert "{schema}" not in prompt and schema_text(task.model) in prompt  # one source of truth
        assert len(task.student_prompt) < 300 < len(task.teacher_template)
        assert len(task.prompt_hash) == len(task.schema_hash) == 16


def test_content_schema_puts_short_fields_before_the_markdown():
    (content,) = resolve_tasks(["content"])
    keys = list(content.model.model_json_schema()["properties"])
    assert keys[-1] == "markdown" and keys.index("languages") < keys.index("markdown")


def test_anchor_is_bounded_and_marked():
    (task,) = resolve_tasks(["metadata"])
    prompt = task.teacher_prompt("x" * 100_000)
    assert "<text_layer>" in prompt and len(prompt) < len(task.teacher_prompt()) + 5000


def test_receipt_example_validates_cord_style_answers():
    (receipt,) = resolve_tasks(["receipt"])
    answer = {"menu": [{"nm": "NASI LEMAK", "cnt": "2", "price": "12.00"}],
              "sub_total": {"subtotal_price": "12.00", "discount_price": None, "service_price": None,
                            "tax_price": "0.72"},
              "total": {"total_price": "12.72", "cashprice": "20.00", "changeprice": "7.28", "creditcardprice": None}}
    assert receipt.parse(answer).model_dump() == answer
    with pytest.raises(ValidationError):
        receipt.parse({**answer, "menu": [{"cnt": "2"}]})          # nm is required
    with pytest.raises(ValidationError):
        receipt.parse({**answer, "tip": "1.00"})                    # additionalProperties false


def test_custom_task_with_a_python_model(tmp_path, monkeypatch):
    (tmp_path / "mymodels.py").write_text(
        "from pydantic import BaseModel\nclass Stamp(BaseModel):\n    text: str\n    color: str | None = None\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "t.md").write_text("Read the stamp. Schema: {schema}")
    (tmp_path / "s.md").write_text("Stamp as JSON.")
    (tmp_path / "task.yaml").write_text("name: stamp\nschema: mymodels:Stamp\nteacher_prompt: t.md\n"
                                        "student_prompt: s.md\n")
    task = load_task(tmp_path / "task.yaml")
    assert task.parse({"text": "PAID"}).model_dump() == {"text": "PAID", "color": None}
    assert '"text"' in task.teacher_prompt()
    sys.modules.pop("mymodels", None)


def test_broken_task_definitions_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(TaskError, match="unknown task 'nope'.*content"):
        resolve_tasks(["nope"])
    with pytest.raises(TaskError, match="given twice"):
        resolve_tasks(["content", "content"])
    bad = tmp_path / "task.yaml"
    bad.write_text("name: x\nschema: schema.json\nteacher_prompt: t.md\n")
    with pytest.raises(TaskError, match="lacks student_prompt"):
        load_task(bad)
    bad.write_text("name: x\nschema: schema.json\nteacher_prompt: t.md\nstudent_prompt: s.md\n")
    with pytest.raises(TaskError, match="schema.json"):
        load_task(bad)
    (tmp_path / "schema.json").write_text(json.dumps({"type": "array"}))
    with pytest.raises(TaskError, match="JSON object schema"):
        load_task(bad)
    bad.write_text("name: x\nschema: no_such_module:Model\nteacher_prompt: t.md\nstudent_prompt: s.md\n")
    with pytest.raises(TaskError, match="cannot be imported"):
        load_task(bad)
