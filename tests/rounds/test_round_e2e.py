"""Two rounds with the real LLaMA-Factory on a tiny random Gemma 3, on CPU, offline:
distill -> build_dataset (val + test) -> ``python -m pipeline.round`` twice (real ``llamafactory-cli
train`` and predict each round, evaluate, mine val) -> the protocol checked on the files it wrote.

Kept as cheap as the loop allows: one task (metadata), 128-px page copies, max_steps 2, cutoff 1024,
8 new tokens. Each LLaMA-Factory process costs about 30 s here, nearly all of it start-up (imports,
model and dataset loading), so round 2's two predict runs are handed to the cheap stand-in
(tests/support/round_standin.py via --predict-cmd): round 1 runs the real predict YAMLs, both rounds
the real training. Where the time goes is printed (each round's per-step seconds) and written to
``timings.json`` in the test's tmp folder.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("llamafactory", reason="install the train extra: pip install -e '.[train]'")

from pipeline.evaluation.inputs import page_key  # noqa: E402
from tests.conftest import REPO_ROOT  # noqa: E402
from tests.dataset.test_train_e2e import run  # noqa: E402
from tests.support.tiny_gemma import build_tiny_gemma3  # noqa: E402

ROUND_SET = ["bf16=false", "use_cpu=true", "max_steps=2", "logging_steps=1", "save_steps=2", "eval_steps=2",
             "cutoff_len=1024", "gradient_accumulation_steps=1", "lora_rank=4", "report_to=none",
             "preprocessing_num_workers=1", "dataloader_num_workers=0", "learning_rate=1e-3", "max_new_tokens=8"]


def pages(path: Path) -> set[str]:
    return {page_key(r["images"][0]) for r in json.loads(path.read_text())}


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_two_rounds_with_the_real_llamafactory(tmp_path, monkeypatch):
    monkeypatch.setenv("STANDIN_LOG", str(tmp_path / "standin.log"))
    timings: dict[str, float] = {}
    started = time.perf_counter()
    model = build_tiny_gemma3(tmp_path / "tiny-gemma3")
    run([sys.executable, "-m", "pipeline.distill", "data/samples", "--out", str(tmp_path / "run"), "--teacher",
         "textlayer", "--task", "metadata", "--longest-side", "256", "--no-progress"], REPO_ROOT,
        tmp_path / "distill.log")
    ds = tmp_path / "ds"
    run([sys.executable, "-m", "pipeline.build_dataset", str(tmp_path / "run"), "--out", str(ds), "--val-fraction",
         "0.35", "--test-fraction", "0.2", "--max-image-side", "128", "--no-validate", "--set",
         f"model_name_or_path={model}", "--set", "cutoff_len=1024"], REPO_ROOT, tmp_path / "build.log")
    timings["setup (tiny model, distill, build)"] = time.perf_counter() - started
    overrides = [a for item in ROUND_SET for a in ("--set", item)]
    summaries = []
    for n in (1, 2):
        standin = f"{sys.executable} {REPO_ROOT / 'tests/support/round_standin.py'} predict"
        extra = ["--from-previous", "--predict-cmd", standin] if n == 2 else []
        t0 = time.perf_counter()
        run([sys.executable, "-m", "pipeline.round", str(ds), *overrides, *extra, "--json"], REPO_ROOT,
            tmp_path / f"round{n}.log")
        timings[f"round {n}"] = time.perf_counter() - t0
        summaries.append(json.loads((tmp_path / f"round{n}.log").read_text().splitlines()[-1]))
    (tmp_path / "timings.json").write_text(json.dumps({"total": timings, "steps": [s["seconds"] for s in summaries]},
                                                      indent=2))
    print(json.dumps({"total": timings, "steps": [s["seconds"] for s in summaries]}, indent=2))

    r1, r2 = (ds / "saves" / f"docdistill_r{n}" for n in (1, 2))
    assert [s["round"] for s in summaries] == [1, 2] and all(s["status"] == "done" for s in summaries)
    # round 2 trains on train + the mined sets, from round 1's adapter, into its own folder
    plan2 = json.loads((ds / "rounds" / "round_2" / "plan.json").read_text())
    assert plan2["datasets"][0] == "docdistill_train" and len(plan2["datasets"]) > 1, plan2
    assert all(d.startswith("docdistill_mined_r1_") for d in plan2["datasets"][1:])
    assert plan2["from_previous"] == "saves/docdistill_r1" and plan2["eval_dataset"] is None
    assert plan2["val_seen_in_training"] is True and plan2["checkpoint"] == "last"
    state2 = json.loads((r2 / "trainer_state.json").read_text())
    losses = [e["loss"] for e in state2["log_history"] if "loss" in e]
    assert state2["global_step"] == 2 and all(math.isfinite(x) for x in losses)
    # round 1 picked its checkpoint on val's eval loss; its adapter is untouched by round 2
    state1 = json.loads((r1 / "trainer_state.json").read_text())
    assert state1["best_model_checkpoint"] and [e for e in state1["log_history"] if "eval_loss" in e]
    assert (r1 / "adapter_model.safetensors").is_file() and (r2 / "adapter_model.safetensors").is_file()
    assert (r1 / "adapter_model.safetensors").stat().st_mtime < (r2 / "trainer_state.json").stat().st_mtime
    assert (r1 / "adapter_model.safetensors").read_bytes() != (r2 / "adapter_model.safetensors").read_bytes()
    # predictions of each round come from its own adapter, on val and on test (round 2's from the stand-in)
    assert (tmp_path / "standin.log").read_text().split() == ["predict_val", "rounds/round_2/predict_val.yaml",
                                                              "predict_test", "rounds/round_2/predict_test.yaml"]
    for n, out in ((1, r1), (2, r2)):
        for split in ("val", "test"):
            lines = (out / f"predict_{split}" / "generated_predictions.jsonl").read_text().splitlines()
            assert len(lines) == len(json.loads((ds / f"docdistill_{split}.json").read_text()))
    # test pages are in no training file of any round (checked by page id)
    test_pages = pages(ds / "docdistill_test.json")
    info = json.loads((ds / "dataset_info.json").read_text())
    trained = [ds / info[d]["file_name"] for n in (1, 2)
               for d in json.loads((ds / "rounds" / f"round_{n}" / "plan.json").read_text())["datasets"]]
    assert test_pages and all(not (pages(f) & test_pages) for f in trained)
    assert pages(ds / "docdistill_mined_r1_regression.json") <= pages(ds / "docdistill_val.json")
    history = json.loads((ds / "rounds" / "history.json").read_text())["rounds"]
    assert [e["round"] for e in history] == [1, 2]
    assert history[0]["val"]["seen_in_training"] is False and history[1]["val"]["seen_in_training"] is True
    assert set(history[1]["test"]["systems"]) == {"student", "previous"}
    report = (ds / "rounds" / "report.html").read_text()
    assert "<svg" in report and report.count("<circle") == 2 and "seen in training" in report
