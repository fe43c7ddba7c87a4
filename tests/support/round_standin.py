"""A cheap stand-in for the GPU steps a round hands off (``--train-cmd`` / ``--predict-cmd``).

``python tests/support/round_standin.py train|predict YAML``, run from inside the dataset folder as
the round runs its launchers. It reads the YAML as LLaMA-Factory would (the datasets must exist in
dataset_info.json), and writes what LLaMA-Factory writes where the round looks for it: a train run
``output_dir/{adapter_model.safetensors, adapter_config.json, trainer_state.json}``; a predict run
``output_dir/generated_predictions.jsonl`` (the label for even records, an empty object for odd
ones, so the student has failures to mine).

Environment: ``STANDIN_LOG`` (a line per start is appended: "<kind> <yaml>"); ``STANDIN_BLOCK`` (a
step name such as train or predict_test) with ``STANDIN_GATE`` (a file): while the gate file exists,
that step writes ``<gate>.started`` and waits, so a test can kill the round inside it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import yaml


def main(kind: str, yaml_path: str) -> None:
    config = yaml.safe_load(Path(yaml_path).read_text())
    step = kind if kind == "train" else Path(yaml_path).stem          # predict_val / predict_test
    with open(os.environ["STANDIN_LOG"], "a") as log:
        log.write(f"{step} {yaml_path}\n")
    gate = os.environ.get("STANDIN_GATE")
    if gate and os.environ.get("STANDIN_BLOCK") == step and Path(gate).exists():
        Path(gate + ".started").write_text(str(os.getpid()))
        while Path(gate).exists():
            time.sleep(0.2)
    info = json.loads(Path(config.get("dataset_dir", "."), "dataset_info.json").read_text())
    out = Path(config["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    if kind == "train":
        for name in str(config["dataset"]).split(","):
            records = json.loads(Path(info[name]["file_name"]).read_text())
            assert records, name
        (out / "adapter_config.json").write_text("{}")
        (out / "adapter_model.safetensors").write_bytes(b"stand-in")
        (out / "trainer_state.json").write_text(json.dumps({"global_step": 1, "log_history": [{"loss": 1.0}]}))
        return
    records = json.loads(Path(info[config["eval_dataset"]]["file_name"]).read_text())
    lines = []
    for index, record in enumerate(records):
        human, gpt = (t["value"] for t in record["conversations"][:2])
        lines.append(json.dumps({"prompt": human, "predict": gpt if index % 2 == 0 else "{}", "label": gpt}))
    tmp = out / ".generated_predictions.jsonl.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(out / "generated_predictions.jsonl")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
