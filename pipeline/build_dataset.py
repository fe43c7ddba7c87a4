"""``python -m pipeline.build_dataset RUN_DIR --out DATASET_DIR``: a LLaMA-Factory dataset + YAML.

Thin entry point: flags -> DatasetConfig + preset -> write_dataset -> YAML files -> summary
(``--json``: one JSON object). The folder is self-contained: every path in its YAML files is
relative to it, so it can be copied to any GPU box and trained from inside it with
``cd DATASET_DIR && llamafactory-cli train <name>.yaml``. Exit codes (``pipeline.cli``, the same
for every command): 0 written, 2 bad configuration or nothing to build (LLaMA-Factory's own
validation included; nothing written), 3 stopped by a write failure (disk full), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from pipeline.cli import EXIT_CONFIG, EXIT_DONE, EXIT_INTERRUPTED, EXIT_STOPPED, check_out_dir, exit_now, \
    make_parser
from pipeline.errors import ConfigError
from pipeline.dataset.build import DatasetConfig, write_dataset
from pipeline.dataset.lf_config import DEEPSPEED_STAGES, DEFAULT_PRESET, api_command, api_config, check_keys, \
    deepspeed_config, export_config, load_preset, parse_overrides, predict_config, preset_names, to_yaml
from pipeline.dataset.lf_validate import validate
from pipeline.store import RunStore, StoreError


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("python -m pipeline.build_dataset", __doc__)
    parser.add_argument("run_dir", type=Path, help="a run folder written by python -m pipeline.distill")
    parser.add_argument("--out", type=Path, required=True,
                        help="dataset folder (created; self-contained: copy it anywhere, train from inside it)")
    parser.add_argument("--name", default="docdistill", help="dataset name prefix (default docdistill)")
    parser.add_argument("--task", dest="tasks", action="append", help="only these tasks (repeatable; default all)")
    parser.add_argument("--teacher", help="only labels from this teacher")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    group = parser.add_argument_group("split (by document, never by page)")
    group.add_argument("--val-fraction", type=float, default=0.1, help="share of documents for validation")
    group.add_argument("--test-fraction", type=float, default=0.0,
                       help="share of documents held out for a test split (never trained or mined on)")
    group.add_argument("--val-pdfs", help="comma-separated file names (or relative paths) for validation "
                                          "(instead of --val-fraction)")
    group.add_argument("--seed", type=int, default=42, help="seed of the document split (same seed, same split)")
    group.add_argument("--golden", action="store_true",
                       help="pages accepted or edited in python -m pipeline.review form <name>_golden: a locked "
                            "evaluation set, never trained on (their documents leave train/val), never mined")
    group = parser.add_argument_group("records")
    group.add_argument("--max-image-side", type=int, help="resize image copies (Gemma 3 sees 896x896)")
    group.add_argument("--train-redacted-mismatches", action="store_true",
                       help="pages whose placeholders did not come back (redaction_mismatch): train on the redacted "
                            "image that was sent, with the teacher's label and its placeholders (default: left out)")
    group.add_argument("--system-prompt", help="a system turn for every record")
    group.add_argument("--no-per-task", action="store_true", help="no per-task datasets, only the combined ones")
    group = parser.add_argument_group("LLaMA-Factory YAML")
    group.add_argument("--preset", default=DEFAULT_PRESET, choices=preset_names(), metavar="NAME",
                       help=f"training recipe from llamafactory_configs/: {', '.join(preset_names())}")
    group.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a YAML key (repeatable), e.g. --set num_train_epochs=5")
    group.add_argument("--epochs", type=float, help="num_train_epochs")
    group.add_argument("--output-dir", help="where training writes the adapter (default saves/NAME inside "
                                            "DATASET_DIR)")
    group.add_argument("--report-to", metavar="TRACKER",
                       help="where training logs go: wandb, tensorboard, mlflow ... (default: the preset's; none "
                            "in the shipped presets; wandb needs the wandb extra and WANDB_API_KEY or "
                            "WANDB_MODE=offline)")
    group.add_argument("--deepspeed", type=int, choices=DEEPSPEED_STAGES,
                       help="multi-GPU: write a ZeRO-2 or ZeRO-3 JSON beside the YAML and point the YAML at it")
    group.add_argument("--no-validate", action="store_true", help="skip LLaMA-Factory's own argument check")
    return parser


def train_config(args: argparse.Namespace) -> dict:
    config = load_preset(args.preset)
    if args.epochs is not None:
        config["num_train_epochs"] = args.epochs
    if args.report_to is not None:
        config["report_to"] = args.report_to
    config.update(parse_overrides(args.overrides))
    check_keys(config)
    return config


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        summary = build(args)
    except (ConfigError, StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except OSError as exc:                 # disk full, the folder removed under us
        print(f"stopped: {type(exc).__name__}: {exc}\n{args.out} is incomplete: fix the cause and rerun "
              "(the run folder is only read)", file=sys.stderr)
        return EXIT_STOPPED
    except KeyboardInterrupt:
        print(f"interrupted: {args.out} is incomplete; rerun the same command to rebuild it (the run folder is "
              "only read)", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(json.dumps(summary, ensure_ascii=False) if args.json else format_summary(summary))
    return EXIT_DONE


def build(args: argparse.Namespace) -> dict:
    """The dataset folder and its YAML files; returns the summary."""
    config = train_config(args)
    cfg = DatasetConfig(
        run_dir=args.run_dir, out_dir=args.out, name=args.name, tasks=tuple(args.tasks or ()),
        teacher=args.teacher, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
        val_pdfs=tuple(p.strip() for p in (args.val_pdfs or "").split(",") if p.strip()), seed=args.seed,
        template=str(config.get("template", "gemma3")), cutoff_len=int(config.get("cutoff_len", 12000)),
        max_image_side=args.max_image_side, system_prompt=args.system_prompt, per_task=not args.no_per_task,
        golden=args.golden, model=config.get("model_name_or_path"), image_max_pixels=config.get("image_max_pixels"),
        train_redacted_mismatches=args.train_redacted_mismatches)
    check_out_dir(cfg.out_dir)
    # Paths relative to the dataset folder: it trains wherever it is copied, run from inside it.
    config.update({"dataset": f"{cfg.name}_train", "eval_dataset": f"{cfg.name}_val", "dataset_dir": ".",
                   "output_dir": args.output_dir or f"saves/{cfg.name}"})
    if args.deepspeed:
        config["deepspeed"] = f"ds_z{args.deepspeed}_config.json"
    # predict targets val, the split evaluate may mine; test gets its own YAML and is never mined
    yamls = {"train": config, "predict": predict_config(config, f"{cfg.name}_val"),
             "export": export_config(config), "api": api_config(config)}
    if cfg.test_fraction:
        yamls["predict_test"] = predict_config(config, f"{cfg.name}_test", output=f"{config['output_dir']}/predict_test")
    with RunStore(cfg.run_dir, read_only=True) as store:   # a run on read-only media is fine
        require_labels(store, cfg)         # before the validation: it imports LLaMA-Factory (30-60 s)
        # LLaMA-Factory's own check comes before writing: a typo'd key fails with nothing written.
        validation, started = "validation skipped (--no-validate)", time.perf_counter()
        if not args.no_validate:
            for kind, yaml_config in yamls.items():
                said = validate(yaml_config, "infer" if kind in ("export", "api") else "train")
                validation = said if kind == "train" else validation
        validation_seconds = time.perf_counter() - started
        summary = write_dataset(cfg, store)
    if "train" not in summary["splits"]:
        raise ConfigError(f"no valid labels to train on in {cfg.run_dir} (dropped: {summary['dropped']})")
    if "val" not in summary["splits"]:  # nothing to evaluate on: evaluation keys would make training fail
        for key in ("eval_dataset", "eval_strategy", "eval_steps", "per_device_eval_batch_size"):
            config.pop(key, None)
        yamls.pop("predict")
    if "test" not in summary["splits"]:
        yamls.pop("predict_test", None)
    summary["validation"] = validation
    summary["validation_seconds"] = round(validation_seconds, 3)
    summary["yaml"] = write_yamls(cfg.out_dir, cfg.name, yamls, args, validation, summary["version"])
    return summary


def require_labels(store: RunStore, cfg: DatasetConfig) -> None:
    """Nothing to build (no valid label for the tasks asked for) is a ConfigError, found in a second."""
    counts = Counter({f"{t}:{o}": n for (t, o), n in store.count_labels().items() if not cfg.tasks or t in cfg.tasks})
    if not any(n for key, n in counts.items() if key.endswith(":ok")) and not store.review_decisions():
        found = ", ".join(f"{k} {n}" for k, n in sorted(counts.items())) or "none"
        raise ConfigError(f"nothing to build: {cfg.run_dir} has no valid label"
                          f"{' for ' + ', '.join(cfg.tasks) if cfg.tasks else ''} (labels: {found}); label its "
                          "pages with python -m pipeline.distill --teacher NAME first")


_YAML_USE = {
    "train": "llamafactory-cli train {file}",
    "predict": "llamafactory-cli train {file}\n(writes generated_predictions.jsonl for python -m pipeline.evaluate)",
    "predict_test": "llamafactory-cli train {file}\n(the held-out test split: score it, never --mine it)",
    "export": "llamafactory-cli export {file}\n(merges the adapter into the base model, for vLLM or sharing)",
    "api": "{api}\n(the student's OpenAI-compatible server: local only, no request logging; then python -m "
           "pipeline.extract PDF_DIR --out OUT_DIR --endpoint http://127.0.0.1:8000/v1 --model {name} "
           "--dataset {dataset})",
}


def write_yamls(out_dir: Path, name: str, yamls: dict[str, dict], args: argparse.Namespace, validation: str,
                version: str) -> dict[str, str]:
    """The YAML files (and the DeepSpeed JSON) beside the dataset; returns kind -> path."""
    written = {}
    for kind, config in yamls.items():
        path = out_dir / (f"{name}.yaml" if kind == "train" else f"{name}_{kind}.yaml")
        header = (f"Checked: {validation}.\nGenerated by docdistill {version} from {args.run_dir} (preset "
                  f"{args.preset}).\nRun it from inside this folder ({out_dir}, or wherever it is copied): "
                  f"{'dataset_dir is . and ' if 'dataset_dir' in config else ''}every path here is relative to it"
                  f"{_absolute_note(config)}.\n  cd {out_dir} && "
                  + _YAML_USE[kind].format(file=path.name, api=api_command(path.name, name), name=name,
                                            dataset=out_dir))
        path.write_text(to_yaml(config, header), encoding="utf-8")
        written[kind] = str(path)
    if args.deepspeed:
        path = out_dir / f"ds_z{args.deepspeed}_config.json"
        path.write_text(json.dumps(deepspeed_config(args.deepspeed), indent=2) + "\n", encoding="utf-8")
        written["deepspeed"] = str(path)
    return written


_PATH_KEYS = ("model_name_or_path", "adapter_name_or_path", "dataset_dir", "media_dir", "output_dir", "export_dir",
              "deepspeed")


def _absolute_note(config: dict) -> str:
    absolute = [k for k in _PATH_KEYS if k in config and Path(str(config[k])).is_absolute()]
    return f" (except {', '.join(absolute)}, absolute as given)" if absolute else ""


def format_summary(summary: dict) -> str:
    validated = ("validation skipped" if summary["validation"].startswith("validation skipped")
                 else f"LLaMA-Factory validation {summary['validation_seconds']:.1f}s")
    lines = [f"dataset: {summary['dataset_dir']} (written in {summary['seconds']:.1f}s, {validated})"]
    for split, data in summary["splits"].items():
        tasks = ", ".join(f"{t} {d['records']}" for t, d in data["tasks"].items())
        lines.append(f"  {split:<6} {data['records']} records, {data['pages']} pages, "
                     f"{data['documents']} documents ({tasks})")
    for reason, count in summary["dropped"].items():
        lines.append(f"  dropped_{reason:<26} {count}")
    review = summary["review"]
    if review["verdicts"]:
        lines.append(f"  review: {review['accepted']} accepted, {review['edited']} edited, {review['rejected']} rejected "
                     f"{review['rejected_by_reason']}" + (f", golden {review['golden_records']} records" if
                                                           review["golden"] else ""))
    leak = summary["leakage"]
    lines.append(f"  leakage: {leak['documents_in_several_splits']} documents, "
                 f"{leak['near_duplicate_pairs_across_splits']} near-duplicate pairs across splits")
    lines.append(f"  YAML: {', '.join(summary['yaml'].values())} ({summary['validation']})")
    lines.append(f"  train: cd {summary['dataset_dir']} && llamafactory-cli train {Path(summary['yaml']['train']).name}")
    return "\n".join(lines)


if __name__ == "__main__":
    exit_now(main())
