"""Step 1 of a round: what it trains on and how, as LLaMA-Factory YAMLs in ``rounds/round_N/``.

The protocol, enforced here rather than left to the reader of a README:

- training = ``<name>_train`` + every earlier round's hard set + the newest regression set (it holds
  every item ever failed, so the older ones would only count twice);
- test pages are never in a training file: checked by page id, a ConfigError if one is;
- val is ``eval_dataset`` (and picks the best checkpoint by eval loss) only while none of its pages
  is in the training files; once mined, eval loss on it would be measured on trained data, so it is
  dropped and the last checkpoint is used (the report marks val scores as seen in training);
- records longer than this round's ``cutoff_len`` (for the YAML's model: ``dataset.lengths``) are
  dropped into a round copy of their dataset and counted, never left for LLaMA-Factory to cut.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from PIL import Image

from pipeline.dataset.lengths import lengths_for
from pipeline.dataset.lf_config import api_config, export_config, predict_config, to_yaml
from pipeline.dataset.sharegpt import merge_dataset_info
from pipeline.errors import ConfigError
from pipeline.evaluation.inputs import page_key
from pipeline.rounds.config import Layout, RoundConfig

EVAL_KEYS = ("eval_dataset", "eval_strategy", "eval_steps", "per_device_eval_batch_size", "load_best_model_at_end",
             "metric_for_best_model", "greater_is_better")


def read_records(path: Path) -> list[dict]:
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read as a ShareGPT JSON array ({exc}); rebuild it") from exc
    return records if isinstance(records, list) else []


def pages_of(records: list[dict]) -> set[str]:
    """Page ids of ShareGPT records (their first image's page key, as evaluate names items).

    >>> sorted(pages_of([{"images": ["images/0a/0a1b2c3d4e5f6a7b_p0001.jpg"]}, {"images": []}]))
    ['0a1b2c3d4e5f6a7b_p0001']
    """
    return {page_key(r["images"][0]) for r in records if isinstance(r, dict) and r.get("images")}


def training_sets(layout: Layout, n: int) -> list[str]:
    """The datasets round ``n`` trains on, before the cutoff check (empty mined sets left out)."""
    names = [f"{layout.name}_train"]
    for k in range(1, n):
        names.append(f"{layout.mined_name(k)}_hard")
    if n > 1:
        names.append(f"{layout.mined_name(n - 1)}_regression")
    return [d for d in names if d in layout.datasets and layout.file_of(d).is_file() and read_records(layout.file_of(d))]


def _turn(record: dict, role: str) -> str:
    return next((t.get("value", "") for t in record.get("conversations") or [] if t.get("from") == role), "")


def fit_cutoff(layout: Layout, n: int, dataset: str, config: dict) -> tuple[str, int]:
    """(dataset to use, records dropped): a round copy without the records over ``cutoff_len``."""
    lengths = lengths_for(config.get("model_name_or_path"), str(config.get("template", "gemma3")),
                          config.get("image_max_pixels"), base=layout.root)
    cutoff = int(config.get("cutoff_len", 12000))
    records = read_records(layout.file_of(dataset))
    kept = []
    for record in records:
        images = record.get("images") or []
        width = height = 0
        if images and lengths.image_seq_length is None:    # a fixed token count needs no image size
            try:
                with Image.open(layout.root / images[0]) as image:
                    width, height = image.size
            except OSError:
                pass
        tokens = lengths.sample_tokens(width, height, _turn(record, "human").replace("<image>", ""),
                                       _turn(record, "gpt")) + lengths.text_tokens(record.get("system") or "")
        if tokens <= cutoff:
            kept.append(record)
    dropped = len(records) - len(kept)
    if not dropped:
        return dataset, 0
    if not kept:
        raise ConfigError(f"every record of {dataset} is longer than cutoff_len {cutoff} for "
                          f"{config.get('model_name_or_path')}; raise it (--set cutoff_len=N)")
    relative = f"rounds/round_{n}/data/{dataset}.json"
    path = layout.root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(path, "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in kept) + "\n]\n")
    entry = dict(layout.datasets[dataset], file_name=relative)
    if entry.get("num_samples"):           # keep the oversampling factor
        entry["num_samples"] = max(1, round(entry["num_samples"] * len(kept) / len(records)))
    name = f"{dataset}_fit_r{n}"
    merge_dataset_info(layout.root / "dataset_info.json", {name: entry})
    layout.datasets[name] = entry
    return name, dropped


def plan_round(layout: Layout, cfg: RoundConfig, n: int) -> dict:
    """The round's YAMLs (train, predict_val, predict_test, export, api) and plan.json; returns the plan."""
    out_dir = layout.round_dir(n)
    base = {**layout.base_yaml, **cfg.overrides}
    drops: dict[str, int] = {}

    def fit(dataset: str) -> str:
        name, dropped = fit_cutoff(layout, n, dataset, base)
        drops[dataset] = dropped
        return name

    train_sets = [fit(d) for d in training_sets(layout, n)]
    trained_pages = set().union(*(pages_of(read_records(layout.file_of(d))) for d in train_sets))
    test, val = layout.split("test"), layout.split("val")
    if test:
        leaked = sorted(trained_pages & pages_of(read_records(layout.file_of(test))))
        if leaked:
            raise ConfigError(f"round {n} would train on {len(leaked)} test pages (first: {leaked[0]}); test is "
                              "never trained on: remove them from the training sets")
    val_seen = bool(val) and bool(trained_pages & pages_of(read_records(layout.file_of(val))))
    train = {k: v for k, v in base.items() if k not in EVAL_KEYS}
    train.update({"dataset": ",".join(train_sets), "output_dir": layout.output_dir(n), "overwrite_output_dir": False})
    if cfg.from_previous and n > 1:
        previous = layout.output_dir(n - 1)
        if not (layout.root / previous).is_dir():
            raise ConfigError(f"--from-previous: round {n - 1}'s adapter {layout.root / previous} is missing")
        train["adapter_name_or_path"] = previous
    checkpoint = "last"
    if val and not val_seen:
        train.update({k: base[k] for k in EVAL_KEYS if k in base})
        train["eval_dataset"] = fit(val)
        if cfg.checkpoint == "best":
            steps = int(base.get("eval_steps") or base.get("save_steps") or 50)
            train.update({"eval_strategy": "steps", "save_strategy": "steps", "eval_steps": steps, "save_steps": steps,
                          "load_best_model_at_end": True, "metric_for_best_model": "eval_loss",
                          "greater_is_better": False})
            checkpoint = "best eval loss on val"
    plan = {"round": n, "output_dir": layout.output_dir(n), "datasets": train_sets,
            "eval_dataset": train.get("eval_dataset"), "val_seen_in_training": val_seen,
            "checkpoint": checkpoint, "from_previous": train.get("adapter_name_or_path"),
            "cutoff_len": base.get("cutoff_len"), "cutoff_drops": drops, "predict": {}}
    yamls = {"train": train}
    for split, dataset in (("val", val), ("test", test)):
        if dataset:
            name = fit(dataset)
            predict = predict_config(train, name, output=f"{layout.output_dir(n)}/predict_{split}")
            yamls[f"predict_{split}"] = {**predict, **cfg.overrides}
            plan["predict"][split] = {"dataset": name, "references": layout.datasets[name]["file_name"],
                                      "output_dir": predict["output_dir"]}
    for kind, make in (("export", export_config), ("api", api_config)):
        config = make(train)
        yamls[kind] = {**config, **{k: v for k, v in cfg.overrides.items() if k in config}}
    plan["cutoff_drops"] = drops
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(out_dir / "plan.json", json.dumps(plan, indent=2) + "\n")
    for kind in sorted(yamls, key=lambda k: k == "train"):     # train.yaml last: it marks the step done
        header = (f"Round {n} of {layout.name} ({kind}), written by python -m pipeline.round.\n"
                  f"Run it from inside the dataset folder: cd {layout.root} && llamafactory-cli "
                  f"{'export' if kind == 'export' else 'api' if kind == 'api' else 'train'} "
                  f"rounds/round_{n}/{kind}.yaml")
        _write_atomic(out_dir / f"{kind}.yaml", to_yaml(yamls[kind], header))
    return plan


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
