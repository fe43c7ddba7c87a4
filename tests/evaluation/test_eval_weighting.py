"""--anls-star-weighting end to end: the paper's leaf weighting by default, per-key means under their own name."""

from __future__ import annotations

import json

import pytest

from pipeline import evaluate
from tests.support.eval_fixtures import receipt, write_predictions


def _scores(tmp_path, capsys, *extra) -> dict:
    ref = receipt("9.00")        # menu (one item: 3 leaves), sub_total (1), total (1)
    no_menu = {k: v for k, v in ref.items() if k != "menu"}
    predictions = write_predictions(tmp_path / "generated_predictions.jsonl", [(json.dumps(no_menu), ref)])
    code = evaluate.main(["--predictions", str(predictions), "--out", str(tmp_path / "eval"), "--json",
                          "--no-report", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)["systems"]["student"]


def test_default_is_the_papers_leaf_weighting(tmp_path, capsys):
    student = _scores(tmp_path, capsys)
    assert student["metrics"]["anls_star"] == pytest.approx(2 / 5) and "anls_star_key" not in student["metrics"]
    assert student["fields"] == {"menu": 0.0, "sub_total": 1.0, "total": 1.0}


def test_key_weighting_is_reported_as_anls_star_key(tmp_path, capsys):
    student = _scores(tmp_path, capsys, "--anls-star-weighting", "key")
    assert student["metrics"]["anls_star_key"] == pytest.approx(2 / 3) and "anls_star" not in student["metrics"]


def test_an_unknown_weighting_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        evaluate.main(["--predictions", str(tmp_path / "p.jsonl"), "--out", str(tmp_path), "--anls-star-weighting",
                       "mean"])
    assert stop.value.code == 2 and "invalid choice" in capsys.readouterr().err
