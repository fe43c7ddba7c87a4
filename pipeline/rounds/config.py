"""A round's configuration and the dataset folder it works in (read from build_dataset's files)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.errors import ConfigError
from pipeline.evaluation.systems import SystemSpec

CHECKPOINT_CHOICES = ("best", "last")
# Keys the round itself sets in train.yaml: a --set of one of them would break the protocol.
ROUND_KEYS = ("output_dir", "dataset", "eval_dataset", "adapter_name_or_path", "overwrite_output_dir",
              "load_best_model_at_end", "metric_for_best_model", "greater_is_better")


@dataclass(frozen=True)
class RoundConfig:
    dataset_dir: Path
    round: int | None = None                 # None: the round to continue, else the next one
    overrides: dict = field(default_factory=dict)      # --set, on every YAML the round writes
    train_cmd: str | None = None             # the user's launcher (shell; {yaml} = the train YAML)
    predict_cmd: str | None = None           # the same for the two predict runs
    from_previous: bool = False              # start from the previous round's adapter
    checkpoint: str = "best"                 # best: load_best_model_at_end on eval loss (while val is unseen)
    systems: tuple[SystemSpec, ...] = ()     # more systems for the evaluation (--system)
    normalization: str = "arabic"
    pass_score: float = 0.9
    top_n: int = 20
    oversample: int = 3

    def __post_init__(self) -> None:
        if self.round is not None and self.round < 1:
            raise ConfigError(f"--round must be 1 or more, got {self.round}")
        if self.checkpoint not in CHECKPOINT_CHOICES:
            raise ConfigError(f"--checkpoint must be one of {', '.join(CHECKPOINT_CHOICES)}")
        owned = sorted(set(self.overrides) & set(ROUND_KEYS))
        if owned:
            raise ConfigError(f"--set {', '.join(owned)}: the round sets these itself (its own output_dir, the "
                              "train + mined datasets, val as eval_dataset only while unseen, --from-previous, "
                              "--checkpoint); drop them")
        names = [s.name for s in self.systems]
        clash = sorted(set(names) & {"student", "previous"})
        if clash:
            raise ConfigError(f"--system {', '.join(clash)}: the round names its own systems student and previous; "
                              "pick another name")


@dataclass(frozen=True)
class Layout:
    """Where things are in one dataset folder (every path the YAMLs hold is relative to ``root``)."""

    root: Path
    name: str
    base_yaml: dict                            # the dataset's <name>.yaml, as build_dataset wrote it
    datasets: dict                             # dataset_info.json

    def round_dir(self, n: int) -> Path:
        return self.root / "rounds" / f"round_{n}"

    def output_dir(self, n: int) -> str:
        return f"saves/{self.name}_r{n}"

    def mined_name(self, n: int) -> str:
        return f"{self.name}_mined_r{n}"

    def split(self, split: str) -> str | None:
        """The dataset name of a split, when build_dataset wrote it."""
        name = f"{self.name}_{split}"
        return name if name in self.datasets else None

    def file_of(self, dataset: str) -> Path:
        return self.root / self.datasets[dataset]["file_name"]

    @property
    def history_path(self) -> Path:
        return self.root / "rounds" / "history.json"


def read_layout(dataset_dir: Path) -> Layout:
    """The dataset folder's name, train YAML and dataset_info.json; ConfigError naming the fix."""
    manifest_path = dataset_dir / "manifest.json"
    try:
        name = json.loads(manifest_path.read_text(encoding="utf-8"))["name"]
    except FileNotFoundError:
        raise ConfigError(f"{dataset_dir} is not a build_dataset folder (no manifest.json); build one with "
                          "python -m pipeline.build_dataset RUN_DIR --out DATASET_DIR") from None
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{manifest_path} cannot be read ({exc}); rebuild the dataset folder") from exc
    yaml_path = dataset_dir / f"{name}.yaml"
    try:
        base = yaml.safe_load(yaml_path.read_text(encoding="utf-8")) or {}
        datasets = json.loads((dataset_dir / "dataset_info.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{exc.filename} is missing; rebuild the dataset folder with python -m "
                          "pipeline.build_dataset") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{dataset_dir}: {exc}; fix or rebuild the dataset folder") from exc
    if f"{name}_train" not in datasets:
        raise ConfigError(f"{dataset_dir}/dataset_info.json has no {name}_train; rebuild the dataset folder")
    return Layout(dataset_dir, name, base, datasets)
