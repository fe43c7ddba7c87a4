"""A golden set (build_dataset --golden) is never mined: its failures must not become training data."""

from __future__ import annotations

from types import SimpleNamespace

from pipeline.evaluation.inputs import items_from_sharegpt, load_tasks
from pipeline.evaluation.mine import MineConfig, mine


def test_golden_items_are_never_mined(tmp_path):
    image = tmp_path / "images" / "0a" / "0a1b2c3d4e5f6a7b_p0001.jpg"
    image.parent.mkdir(parents=True)
    image.write_bytes(b"\xff\xd8\xff\xd9")
    tasks = load_tasks()
    record = {"conversations": [{"from": "human", "value": "<image>" + tasks["content"].student_prompt},
                                {"from": "gpt", "value": '{"markdown": "x"}'}],
              "images": ["images/0a/0a1b2c3d4e5f6a7b_p0001.jpg"]}
    refs = items_from_sharegpt([record, dict(record, golden=True)], tmp_path, tasks, "refs")
    assert [item.golden for item in refs.items] == [False, True]
    scores = [SimpleNamespace(id=item.id, failures=["parse_failure"], metrics={"anls_star": 0.0}) for item in refs.items]
    summary = mine(refs.items, scores, MineConfig(tmp_path / "mined"))
    assert summary["regression"] == 1 and summary["hard"] == 1 and set(summary["skipped"]) == {"golden"}
