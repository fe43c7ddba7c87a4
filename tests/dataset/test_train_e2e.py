"""The whole loop on CPU, offline: distill -> build_dataset -> a real `llamafactory-cli train` on a tiny
random Gemma 3 -> the generated export YAML merges the adapter -> the generated predict YAML writes
generated_predictions.jsonl. (Scoring real predictions, mining and retraining on them:
tests/rounds/test_round_e2e.py.)

The generated YAMLs are used as they are, from inside the dataset folder as the README says (after
copying it elsewhere, as a user would to a GPU box: every path in them is relative to the folder),
with only the overrides a user would give for this model and this machine (--set on build_dataset;
key=value after the YAML for the generation length).
Needs the train extra; about a minute on 2 cores.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import shutil

import pytest
import yaml

pytest.importorskip("llamafactory", reason="install the train extra: pip install -e '.[train]'")

from tests.conftest import REPO_ROOT  # noqa: E402
from tests.support.tiny_gemma import build_tiny_gemma3  # noqa: E402

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "WANDB_MODE": "disabled", "DISABLE_VERSION_CHECK": "1", "TOKENIZERS_PARALLELISM": "false",
               "CUDA_VISIBLE_DEVICES": ""}  # one process: no torchrun even where GPUs exist
CPU_OVERRIDES = ["bf16=false", "use_cpu=true", "max_steps=3", "logging_steps=1", "save_steps=3", "eval_steps=3",
                 "cutoff_len=1024", "gradient_accumulation_steps=1", "lora_rank=8", "report_to=none",
                 "preprocessing_num_workers=1", "dataloader_num_workers=0", "learning_rate=1e-3"]


def run(cmd: list[str], cwd: Path, log: Path) -> None:
    with log.open("w") as fh:
        proc = subprocess.run(cmd, cwd=cwd, env={**os.environ, **OFFLINE_ENV}, stdout=fh,
                              stderr=subprocess.STDOUT, timeout=540)
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{log.read_text()[-6000:]}"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_distill_build_train_predict(tmp_path):
    model = build_tiny_gemma3(tmp_path / "tiny-gemma3")
    run([sys.executable, "-m", "pipeline.distill", "data/samples", "--out", str(tmp_path / "run"),
         "--teacher", "textlayer", "--longest-side", "512", "--no-progress"], REPO_ROOT, tmp_path / "distill.log")
    overrides = [a for item in [f"model_name_or_path={model}", *CPU_OVERRIDES] for a in ("--set", item)]
    run([sys.executable, "-m", "pipeline.build_dataset", str(tmp_path / "run"), "--out", str(tmp_path / "ds"),
         "--val-fraction", "0.3", "--max-image-side", "256", "--no-validate", *overrides], REPO_ROOT,
        tmp_path / "build.log")   # LLaMA-Factory's own check of the YAML: tests/dataset/test_build_dataset.py
    ds = Path(shutil.copytree(tmp_path / "ds", tmp_path / "gpu-box" / "ds"))   # the folder, moved
    shutil.rmtree(tmp_path / "ds")
    train_yaml = ds / "docdistill.yaml"
    config = yaml.safe_load(train_yaml.read_text())
    assert config["eval_dataset"] == "docdistill_val" and "val_size" not in config
    assert config["dataset_dir"] == "." and not Path(config["output_dir"]).is_absolute()

    cli = [sys.executable, "-m", "llamafactory.cli", "train"]
    run([*cli, train_yaml.name], ds, tmp_path / "train.log")
    out = ds / config["output_dir"]
    assert (out / "adapter_model.safetensors").is_file()
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    losses = [e["loss"] for e in history if "loss" in e]
    eval_losses = [e["eval_loss"] for e in history if "eval_loss" in e]
    assert len(losses) == 3 and all(math.isfinite(x) for x in losses), history
    assert eval_losses and all(math.isfinite(x) for x in eval_losses), history

    export_yaml = ds / "docdistill_export.yaml"
    run([*cli[:3], "export", export_yaml.name], ds, tmp_path / "export.log")
    merged = ds / yaml.safe_load(export_yaml.read_text())["export_dir"]
    assert (merged / "config.json").is_file() and list(merged.glob("*.safetensors")), list(merged.iterdir())

    predict_yaml = ds / "docdistill_predict.yaml"
    run([*cli, predict_yaml.name, "max_new_tokens=8"], ds, tmp_path / "predict.log")
    predict_dir = ds / yaml.safe_load(predict_yaml.read_text())["output_dir"]
    lines = [json.loads(x) for x in (predict_dir / "generated_predictions.jsonl").read_text().splitlines()]
    val_records = json.loads((ds / "docdistill_val.json").read_text())
    assert len(lines) == len(val_records) and all({"prompt", "predict", "label"} <= set(x) for x in lines)
