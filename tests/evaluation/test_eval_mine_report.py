"""Failure mining (regression set grows across cycles, hard set per cycle, dataset_info merge,
oversampling) and the report files."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from pipeline.evaluation.inputs import load_references, load_tasks
from pipeline.evaluation.mine import MineConfig, mine
from pipeline.evaluation.report import write_report
from pipeline.evaluation.systems import compare
from tests.support.eval_fixtures import write_receipt_split


@pytest.fixture
def items(tmp_path):
    split = write_receipt_split(tmp_path / "ds", ["1.00", "2.00", "3.00", "4.00"])
    return load_references(split, load_tasks()).items


def scored(items, wrong: set[int], broken: set[int] = frozenset()):
    predictions = {}
    for i, item in enumerate(items):
        answer = dict(item.reference, total={"total_price": "0"}) if i in wrong else item.reference
        predictions[item.id] = "{oops" if i in broken else json.dumps(answer)
    return compare(items, {"student": predictions}, load_tasks())


def outcome(items, wrong: set[int] = frozenset(), broken: set[int] = frozenset()) -> list:
    """Item scores as the metrics library reports them (only what mining reads: id, failures, metrics)."""
    return [SimpleNamespace(id=item.id, failures=["parse_failure"] if i in broken else ["wrong_value"] if i in wrong
                            else [], metrics={"anls_star": 0.0 if i in broken else 0.5 if i in wrong else 1.0})
            for i, item in enumerate(items)]


def test_regression_grows_and_never_shrinks_hard_is_per_cycle(tmp_path, items):
    out = tmp_path / "next"
    out.mkdir()
    (out / "dataset_info.json").write_text(json.dumps({"docdistill_train": {"file_name": "docdistill_train.json"}}))
    cfg = MineConfig(out, top_n=5, oversample=3)

    first = mine(items, outcome(items, wrong={0}, broken={1}), cfg)
    assert (first["regression"], first["regression_new"], first["hard"]) == (2, 2, 2)
    second = mine(items, outcome(items, wrong={2}), cfg)    # 0 and 1 fixed, 2 broke
    assert (second["regression"], second["regression_new"], second["hard"]) == (3, 1, 1)

    regression = json.loads((out / "docdistill_mined_regression.json").read_text())
    hard = json.loads((out / "docdistill_mined_hard.json").read_text())
    assert [r["id"] for r in regression] == [items[0].id, items[1].id, items[2].id]
    assert [r["id"] for r in hard] == [items[2].id]
    for record in regression:
        assert record["conversations"][0]["value"].startswith("<image>Extract the receipt")
        assert json.loads(record["conversations"][1]["value"]) in [i.reference for i in items]
        assert (out / record["images"][0]).is_file() and not record["images"][0].startswith("/")
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["docdistill_train"] == {"file_name": "docdistill_train.json"}        # foreign entry kept
    assert info["docdistill_mined_regression"]["num_samples"] == 9                    # 3 records x 3
    assert info["docdistill_mined_hard"]["num_samples"] == 3
    assert info["docdistill_mined_hard"]["formatting"] == "sharegpt"


def test_hard_set_takes_the_worst_per_failure_type(tmp_path, items):
    summary = mine(items, outcome(items, wrong={0, 2}, broken={1, 3}), MineConfig(tmp_path / "m", top_n=1))
    hard = [r["id"] for r in json.loads((tmp_path / "m" / "docdistill_mined_hard.json").read_text())]
    assert hard == [items[1].id, items[0].id]      # the worst overall (also the worst parse failure), worst wrong value
    assert summary["regression"] == 4


def test_report_files_exist_and_html_references_them(tmp_path, items):
    comparison = scored(items, wrong={0}, broken={1})
    comparison.scores["base"] = comparison.scores["student"]
    comparison.summaries["base"] = dict(comparison.summaries["student"], n=4)
    comparison.predictions["base"] = comparison.predictions["student"]
    result = {"items": 4, "references": 4, "reference_source": "docdistill_val.json",
              "lacking": {"student": 0, "base": 0}, "endpoints": {}}
    paths = write_report(tmp_path / "eval", comparison, result, worst_k=2)
    out = tmp_path / "eval"
    html, md = (out / "report.html").read_text(), (out / "report.md").read_text()
    for png in ("fields.png", "failures.png"):
        assert (out / png).stat().st_size > 5000 and png in html and png in md
    thumbs = sorted(p.name for p in (out / "thumbs").glob("*.jpg"))
    assert len(thumbs) == 2 and all(f"thumbs/{t}" in html for t in thumbs)
    assert "| system | n |" in md and "CORD receipts" in md
    assert '-    "total_price": "1.00"' in md and 'class="add"' in html
    assert paths["chart_fields"].endswith("fields.png")
