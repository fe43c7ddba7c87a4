"""What build_dataset records about the student's inputs, and how extract reads it back."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import ConfigError
from pipeline.render.config import RenderConfig
from pipeline.store import RunStore
from pipeline.student.manifest import StudentSection, TaskSection, load_student_section
from pipeline.student.setup import resolve_setup, task_from_section
from pipeline.tasks import resolve_tasks
from tests.support.student_fixtures import SYSTEM_PROMPT, make_dataset, manifest


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("student")
    return make_dataset(root, "--max-image-side", "96", "--system-prompt", SYSTEM_PROMPT,
                        render_args=("--longest-side", "320", "--grayscale", "--enhance", "autocontrast"))


def test_manifest_records_what_the_student_saw(dataset):
    section = manifest(dataset)["student"]
    trained = RenderConfig(longest_side=320, max_pixels=320 * 320, grayscale=True, enhance="autocontrast")
    with RunStore(dataset.parent / "run") as store:
        keys = {p.render_key for p in store.iter_pages()}
    assert keys == {trained.key()} and section["render"]["key"] == trained.key()
    assert section["render"]["settings"] == trained.settings() and section["render"]["pages"] == 6
    assert section["max_image_side"] == 96 and section["system_prompt"] == SYSTEM_PROMPT
    records = json.loads((dataset / "docdistill_train.json").read_text())
    human = {r["conversations"][0]["value"] for r in records}
    assert human == {"<image>" + t["student_prompt"] for t in section["tasks"]}
    assert [t["name"] for t in section["tasks"]] == ["content", "metadata"]


def test_setup_reproduces_the_training_inputs(dataset):
    section, path = load_student_section(dataset)
    assert load_student_section(path)[1] == path                   # the manifest file itself works too
    setup = resolve_setup(section, path, {})
    assert setup.render.key() == section.render.key and not setup.warnings
    assert setup.max_image_side == 96 and setup.system_prompt == SYSTEM_PROMPT
    assert [t.name for t in setup.tasks] == ["content", "metadata"]
    assert setup.tasks == tuple(resolve_tasks(["content", "metadata"]))   # the built-ins, validators and all


def test_overrides_are_kept_and_warned_about(dataset):
    section, path = load_student_section(dataset)
    setup = resolve_setup(section, path, {"longest_side": 640, "grayscale": False}, tasks=["metadata"],
                          max_image_side=0, system_prompt="")
    assert setup.render.longest_side == 640 and setup.render.max_pixels == 640 * 640 and not setup.render.grayscale
    assert setup.max_image_side is None and setup.system_prompt is None
    warned = " | ".join(setup.warnings)
    for flag in ("--longest-side 640", "--grayscale False", "--max-image-side 0", "--system-prompt"):
        assert flag in warned, warned
    assert "--max-pixels" not in warned and [t.name for t in setup.tasks] == ["metadata"]


def test_a_task_changed_since_training_is_rebuilt_from_the_manifest():
    (content,) = resolve_tasks(["content"])
    section = TaskSection(name="content", student_prompt="Read the page.", schema=content.schema_json,
                          prompt_hash="x", schema_hash=content.schema_hash)
    task = task_from_section(section, "m.json")
    assert task.student_prompt == "Read the page." and task.model is not content.model
    good = {"languages": ["en"], "direction": "ltr", "page_number": None, "has_tables": False,
            "has_handwriting": False, "elements": [{"kind": "heading", "text": "A", "level": 1}], "markdown": "# A"}
    assert task.parse(good).model_dump(mode="json")["markdown"] == "# A"
    with pytest.raises(Exception):
        task.parse({**good, "direction": "up"})                    # the enum survives the JSON Schema


def test_only_a_hash_recorded_needs_matching_flags(tmp_path):
    key = RenderConfig(longest_side=512, max_pixels=512 * 512).key()
    section = StudentSection.model_validate({"render": {"key": key, "settings": None, "pages": 3}, "tasks": []})
    assert resolve_setup(section, None, {"longest_side": 512, "max_pixels": 512 * 512}, ["content"]).render.key() == key
    with pytest.raises(ConfigError, match="only the hash"):
        resolve_setup(section, None, {}, ["content"])


def test_no_manifest_warns_and_an_old_manifest_says_how_to_rebuild(tmp_path):
    setup = resolve_setup(None, None, {})
    assert setup.render == RenderConfig() and "--dataset" in setup.warnings[0]
    (tmp_path / "manifest.json").write_text(json.dumps({"version": "0.1.0", "tasks": {}}))
    with pytest.raises(ConfigError, match="build_dataset"):
        load_student_section(tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        load_student_section(tmp_path / "nothing")
