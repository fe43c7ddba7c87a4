"""evaluate --mine refuses the held-out test split: test pages are scored, never trained on."""

from __future__ import annotations

import json
import shutil

from pipeline.evaluate import main

CONTENT = "Transcribe this page."


def _split(path, pages):
    records = [{"conversations": [{"from": "human", "value": "<image>" + CONTENT},
                                  {"from": "gpt", "value": json.dumps({"title": f"page {p}"})}],
                "images": [f"images/0a/0a1b2c3d4e5f6a7{p}_p0001.jpg"]} for p in pages]
    path.write_text(json.dumps(records))
    return records


def _predictions(path, records):
    path.write_text("\n".join(json.dumps({"prompt": "x", "predict": "{}", "label": r["conversations"][1]["value"]})
                              for r in records) + "\n")
    return path


def test_mine_on_the_test_split_is_refused(tmp_path, capsys):
    ds = tmp_path / "ds"
    ds.mkdir()
    test = _split(ds / "docdistill_test.json", [1, 2])
    preds = _predictions(tmp_path / "p.jsonl", test)
    code = main(["--references", str(ds / "docdistill_test.json"), "--predictions", str(preds), "--out",
                 str(tmp_path / "eval"), "--mine", str(ds), "--no-report"])
    err = capsys.readouterr().err
    assert code == 2 and "--mine refused" in err and "held-out test split" in err and "docdistill_val.json" in err
    assert not (ds / "docdistill_mined_regression.json").exists() and not (ds / "dataset_info.json").exists()


def test_test_pages_under_another_name_are_refused_too(tmp_path, capsys):
    ds = tmp_path / "ds"
    ds.mkdir()
    test = _split(ds / "docdistill_test.json", [1, 2])
    shutil.copyfile(ds / "docdistill_test.json", ds / "picked.json")
    code = main(["--references", str(ds / "picked.json"), "--predictions", str(_predictions(tmp_path / "p.jsonl", test)),
                 "--out", str(tmp_path / "eval"), "--mine", str(ds), "--no-report"])
    assert code == 2 and "are test pages" in capsys.readouterr().err


def test_val_is_mined(tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    _split(ds / "docdistill_test.json", [1])
    val = _split(ds / "docdistill_val.json", [2, 3])
    (ds / "images" / "0a").mkdir(parents=True)
    for r in val:
        (ds / r["images"][0]).write_bytes(b"\xff\xd8 not really a jpeg")
    code = main(["--references", str(ds / "docdistill_val.json"), "--predictions",
                 str(_predictions(tmp_path / "p.jsonl", val)), "--out", str(tmp_path / "eval"), "--mine", str(ds),
                 "--no-report"])
    assert code == 0 and len(json.loads((ds / "docdistill_mined_regression.json").read_text())) == 2
