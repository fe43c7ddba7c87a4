"""python -m pipeline.evaluate end to end in-process: predictions files, dataset splits, run folders,
several systems on the same items, and the configuration errors (exit code 2)."""

from __future__ import annotations

import json

import pytest

from pipeline import build_dataset, distill, evaluate
from tests.conftest import make_pdf
from tests.support.eval_fixtures import receipt, write_predictions, write_receipt_split


def run_cli(capsys, *argv) -> tuple[int, dict | str]:
    code = evaluate.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 and "--json" in argv else err)


def test_generated_predictions_alone_are_scored_against_their_labels(tmp_path, capsys):
    right, wrong = receipt("9.00"), receipt("4.50")
    predictions = write_predictions(tmp_path / "generated_predictions.jsonl", [
        (json.dumps(right), right), (json.dumps(receipt("4.00")), wrong), ('{"menu": [', right)])
    code, result = run_cli(capsys, "--predictions", predictions, "--out", tmp_path / "eval", "--json")
    assert code == 0, result
    student = result["systems"]["student"]
    assert result["items"] == student["n"] == 3
    assert student["failures"]["parse_failure"] == 1
    assert result["lacking"] == {"student": 0}
    assert json.loads((tmp_path / "eval" / "results.json").read_text())["items"] == 3
    assert len((tmp_path / "eval" / "scores.jsonl").read_text().splitlines()) == 3
    html = (tmp_path / "eval" / "report.html").read_text()
    assert "fields.png" in html and "failures.png" in html and "CORD receipts" in html


def test_split_with_two_systems_aligned_by_line(tmp_path, capsys):
    totals = ["1.00", "2.00", "3.00"]
    split = write_receipt_split(tmp_path / "ds", totals)
    base = write_predictions(tmp_path / "base.jsonl", [("not json", receipt(t)) for t in totals])
    tuned = write_predictions(tmp_path / "tuned.jsonl", [(json.dumps(receipt(t)), receipt(t)) for t in totals])
    code, result = run_cli(capsys, "--references", split, "--system", f"base=predictions:{base}",
                           "--system", f"finetuned=predictions:{tuned}", "--out", tmp_path / "eval", "--json",
                           "--mine", tmp_path / "next", "--mine-system", "base")
    assert code == 0, result
    assert set(result["systems"]) == {"base", "finetuned"} and result["items"] == 3
    assert result["systems"]["finetuned"]["metrics"]["anls_star"] == 1.0
    assert result["systems"]["base"]["failures"]["parse_failure"] == 3
    assert len(list((tmp_path / "eval" / "thumbs").glob("*.jpg"))) == 3
    assert result["mined"]["system"] == "base" and result["mined"]["regression"] == 3
    assert len(list((tmp_path / "next" / "images").glob("*.jpg"))) == 3


def test_teacher_run_scored_against_human_labels_on_the_common_pages(tmp_path, capsys):
    make_pdf(tmp_path / "pdfs" / "a.pdf", pages=2, text="Invoice 42")
    assert distill.main([str(tmp_path / "pdfs"), "--out", str(tmp_path / "run"), "--teacher", "textlayer",
                         "--task", "metadata", "--longest-side", "256", "--no-progress"]) == 0
    assert build_dataset.main([str(tmp_path / "run"), "--out", str(tmp_path / "ds"), "--val-fraction", "0",
                               "--no-validate"]) == 0
    capsys.readouterr()
    records = json.loads((tmp_path / "ds" / "docdistill_train.json").read_text())
    human = tmp_path / "human.jsonl"     # human truth for the same pages, plus one page the teacher never saw
    rows = [{"image": f"ds/{r['images'][0]}", "task": "metadata",
             "reference": json.loads(r["conversations"][1]["value"])} for r in records]
    rows.append({"id": "ffffffffffffffff_p0001:metadata", "task": "metadata", "reference": {"x": 1}})
    human.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code, result = run_cli(capsys, "--references", human, "--system", f"teacher=run:{tmp_path / 'run'}",
                           "--out", tmp_path / "eval", "--json", "--no-report")
    assert code == 0, result
    assert result["items"] == 2 and result["lacking"] == {"teacher": 1}
    assert result["systems"]["teacher"]["metrics"]["anls_star"] == 1.0


@pytest.mark.parametrize("argv, expected", [
    (["--predictions", "missing.jsonl"], "missing.jsonl does not exist"),
    (["--system", "base=predictins:x.jsonl", "--references", "r.jsonl"], "unknown kind 'predictins'"),
    (["--system", "tuned=endpoint:http://localhost:8000/v1", "--references", "r.jsonl"], "needs the model name"),
    (["--system", "a=predictions:x.jsonl", "--system", "b=predictions:y.jsonl"], "give --references"),
    ([], "nothing to evaluate"),
])
def test_bad_configuration_exits_2_naming_the_fix(tmp_path, capsys, monkeypatch, argv, expected):
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(capsys, *argv, "--out", tmp_path / "eval")
    assert code == 2 and expected in err, err


def test_predictions_from_another_split_are_refused(tmp_path, capsys):
    split = write_receipt_split(tmp_path / "ds", ["1.00", "2.00"])
    other = write_predictions(tmp_path / "p.jsonl", [("{}", receipt("7.00")), ("{}", receipt("8.00"))])
    short = write_predictions(tmp_path / "short.jsonl", [("{}", receipt("1.00"))])
    code, err = run_cli(capsys, "--references", split, "--predictions", other, "--out", tmp_path / "e")
    assert code == 2 and "2 of 2 labels differ from their references" in err
    code, err = run_cli(capsys, "--references", split, "--predictions", short, "--out", tmp_path / "e")
    assert code == 2 and "has 1 predictions but the references have 2 items" in err


def test_out_or_mine_that_cannot_be_a_folder_exits_2(tmp_path, capsys):
    predictions = write_predictions(tmp_path / "p.jsonl", [(json.dumps(receipt("1.00")), receipt("1.00"))])
    (tmp_path / "taken").write_text("not a folder")
    for flags, said in ((["--out", tmp_path / "taken"], "--out"),
                        (["--out", tmp_path / "taken" / "eval"], "--out"),
                        (["--out", tmp_path / "eval", "--mine", tmp_path / "taken"], "--mine")):
        code, err = run_cli(capsys, "--predictions", predictions, *flags)
        assert code == 2 and f"{said} " in err and "is a file, not a folder" in err, err
    assert not (tmp_path / "eval").exists()
