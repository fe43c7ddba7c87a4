"""``python -m pipeline.build_dataset RUN_DIR --out DATASET_DIR``: a LLaMA-Factory dataset + YAML.

Thin entry point: flags -> DatasetConfig + preset -> write_dataset -> YAML files -> summary
(``--json``: one JSON object). Train afterwards with ``llamafactory-cli train DATASET_DIR/<name>.yaml``.
Exit codes: 0 written, 2 bad configuration, LLaMA-Factory's own validation included (nothing written).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.dataset.build import DatasetConfig, write_dataset
from pipeline.dataset.lf_config import DEEPSPEED_STAGES, DEFAULT_PRESET, api_command, api_config, check_keys, \
    deepspeed_config, export_config, load_preset, parse_overrides, predict_config, preset_names, to_yaml
from pipeline.dataset.lf_validate import validate
from pipeline.store import RunStore, StoreError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline.build_dataset", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run folder written by python -m pipeline.distill")
    parser.add_argument("--out", type=Path, required=True, help="dataset folder (self-contained, portable)")
    parser.add_argument("--name", default="docdistill", help="dataset name prefix (default docdistill)")
    parser.add_argument("--task", dest="tasks", action="append", help="only these tasks (repeatable; default all)")
    parser.add_argument("--teacher", help="only labels from this teacher")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    group = parser.add_argument_group("split (by document, never by page)")
    group.add_argument("--val-fraction", type=float, default=0.1)
    group.add_argument("--test-fraction", type=float, default=0.0)
    group.add_argument("--val-pdfs", help="comma-separated file names (or relative paths) for validation")
    group.add_argument("--seed", type=int, default=42)
    group = parser.add_argument_group("records")
    group.add_argument("--max-image-side", type=int, help="resize image copies (Gemma 3 sees 896x896)")
    group.add_argument("--system-prompt", help="a system turn for every record")
    group.add_argument("--no-per-task", action="store_true", help="no per-task datasets, only the combined ones")
    group = parser.add_argument_group("LLaMA-Factory YAML")
    group.add_argument("--preset", default=DEFAULT_PRESET, help=f"one of: {', '.join(preset_names())}")
    group.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a YAML key (repeatable), e.g. --set num_train_epochs=5")
    group.add_argument("--epochs", type=float, help="num_train_epochs")
    group.add_argument("--output-dir", help="where training writes the adapter (default DATASET_DIR/saves/NAME)")
    group.add_argument("--deepspeed", type=int, choices=DEEPSPEED_STAGES,
                       help="multi-GPU: write a ZeRO-2 or ZeRO-3 JSON beside the YAML and point the YAML at it")
    group.add_argument("--no-validate", action="store_true", help="skip LLaMA-Factory's own argument check")
    return parser


def train_config(args: argparse.Namespace) -> dict:
    config = load_preset(args.preset)
    if args.epochs is not None:
        config["num_train_epochs"] = args.epochs
    config.update(parse_overrides(args.overrides))
    check_keys(config)
    return config


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = train_config(args)
        cfg = DatasetConfig(
            run_dir=args.run_dir, out_dir=args.out, name=args.name, tasks=tuple(args.tasks or ()),
            teacher=args.teacher, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
            val_pdfs=tuple(p.strip() for p in (args.val_pdfs or "").split(",") if p.strip()), seed=args.seed,
            template=str(config.get("template", "gemma3")), cutoff_len=int(config.get("cutoff_len", 12000)),
            max_image_side=args.max_image_side, system_prompt=args.system_prompt, per_task=not args.no_per_task)
        config.update({"dataset": f"{cfg.name}_train", "eval_dataset": f"{cfg.name}_val",
                       "dataset_dir": str(cfg.out_dir),
                       "output_dir": args.output_dir or str(cfg.out_dir / "saves" / cfg.name)})
        if args.deepspeed:
            config["deepspeed"] = str(cfg.out_dir / f"ds_z{args.deepspeed}_config.json")
        predict_split = f"{cfg.name}_{'test' if cfg.test_fraction else 'val'}"
        yamls = {"train": config, "predict": predict_config(config, predict_split),
                 "export": export_config(config), "api": api_config(config)}
        # LLaMA-Factory's own check comes first: a typo'd key fails before anything is written.
        validation = "validation skipped (--no-validate)"
        if not args.no_validate:
            for kind, yaml_config in yamls.items():
                said = validate(yaml_config, "infer" if kind in ("export", "api") else "train")
                validation = said if kind == "train" else validation
        with RunStore(cfg.run_dir) as store:
            summary = write_dataset(cfg, store)
        if "train" not in summary["splits"]:
            raise ConfigError(f"no valid labels to train on in {cfg.run_dir} (dropped: {summary['dropped']})")
        if "val" not in summary["splits"]:  # nothing to evaluate on: evaluation keys would make training fail
            for key in ("eval_dataset", "eval_strategy", "eval_steps", "per_device_eval_batch_size"):
                config.pop(key, None)
            yamls.pop("predict")
        summary["validation"] = validation
        summary["yaml"] = write_yamls(cfg.out_dir, cfg.name, yamls, args, validation, summary["version"])
    except (ConfigError, StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, ensure_ascii=False) if args.json else format_summary(summary))
    return 0


_YAML_USE = {
    "train": "llamafactory-cli train {path}",
    "predict": "llamafactory-cli train {path}  (writes generated_predictions.jsonl for python -m pipeline.evaluate)",
    "export": "llamafactory-cli export {path}  (merges the adapter into the base model, for vLLM or sharing)",
    "api": "{api}  (the student's OpenAI-compatible server: local only, no request logging; python -m "
           "pipeline.extract PDF_DIR --out OUT_DIR --endpoint http://127.0.0.1:8000/v1 --model {name} "
           "--dataset {dataset})",
}


def write_yamls(out_dir: Path, name: str, yamls: dict[str, dict], args: argparse.Namespace, validation: str,
                version: str) -> dict[str, str]:
    """The YAML files (and the DeepSpeed JSON) beside the dataset; returns kind -> path."""
    written = {}
    for kind, config in yamls.items():
        path = out_dir / (f"{name}.yaml" if kind == "train" else f"{name}_{kind}.yaml")
        header = (f"LLaMA-Factory {validation}\nGenerated by docdistill {version} from {args.run_dir} "
                  f"(preset {args.preset}).\nRun: "
                  f"{_YAML_USE[kind].format(path=path, api=api_command(path, name), name=name, dataset=out_dir)}"
                  "\nfrom the folder "
                  "build_dataset ran in (paths here are relative to it), or append dataset_dir=PATH "
                  "output_dir=PATH to the command.")
        path.write_text(to_yaml(config, header), encoding="utf-8")
        written[kind] = str(path)
    if args.deepspeed:
        path = out_dir / f"ds_z{args.deepspeed}_config.json"
        path.write_text(json.dumps(deepspeed_config(args.deepspeed), indent=2) + "\n", encoding="utf-8")
        written["deepspeed"] = str(path)
    return written


def format_summary(summary: dict) -> str:
    lines = [f"dataset: {summary['dataset_dir']} ({summary['seconds']}s)"]
    for split, data in summary["splits"].items():
        tasks = ", ".join(f"{t} {d['records']}" for t, d in data["tasks"].items())
        lines.append(f"  {split:<6} {data['records']} records, {data['pages']} pages, "
                     f"{data['documents']} documents ({tasks})")
    for reason, count in summary["dropped"].items():
        lines.append(f"  dropped_{reason:<26} {count}")
    leak = summary["leakage"]
    lines.append(f"  leakage: {leak['documents_in_several_splits']} documents, "
                 f"{leak['near_duplicate_pairs_across_splits']} near-duplicate pairs across splits")
    lines.append(f"  YAML: {', '.join(summary['yaml'].values())} ({summary['validation']})")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
