"""Evaluation, the library half: systems x references -> scores -> report -> mined failures.

``evaluate(EvalConfig)`` is what ``python -m pipeline.evaluate`` calls after parsing its flags:
the references, then each system's predictions (files, live endpoints, run folders), the scores
on the items every system answered, ``scores.jsonl`` + ``results.json``, the report, and the
mined regression/hard sets. It raises ConfigError / EndpointError; only the CLI prints them.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.evaluation.endpoint import EndpointConfig, predict_endpoint
from pipeline.evaluation.endpoint_cache import CACHE_FILENAME
from pipeline.evaluation.inputs import (References, load_generated_predictions, load_references, load_tasks,
                                        predictions_by_line, references_from_predictions)
from pipeline.evaluation.mine import MineConfig, mine, refuse_test_split
from pipeline.evaluation.normalize import DEFAULT_NORMALIZATION, NORMALIZATIONS, describe
from pipeline.evaluation.systems import SYNTAX_HINT, SystemSpec, compare, run_predictions


@dataclass(frozen=True)
class EvalConfig:
    out_dir: Path
    systems: tuple[SystemSpec, ...]
    references: Path | None = None
    extra_tasks: tuple[str, ...] = ()
    endpoint: EndpointConfig = field(default_factory=lambda: EndpointConfig("", ""))   # settings for every endpoint
    report: bool = True
    worst: int = 8
    mine: MineConfig | None = None
    mine_system: str | None = None
    anls_star_weighting: str = "leaf"      # "key": per-key means, reported as anls_star_key
    normalization: str = DEFAULT_NORMALIZATION    # --normalize: text scores also under this (raw ones kept)
    ocr_lang: str = "ara+eng"                     # --ocr-lang: for NAME=tesseract systems without their own

    def __post_init__(self) -> None:
        if self.normalization not in NORMALIZATIONS:
            raise ConfigError(f"--normalize must be one of {', '.join(NORMALIZATIONS)}, got {self.normalization!r}")
        if not self.systems:
            raise ConfigError(f"nothing to evaluate: give --predictions FILE, --endpoint URL --model NAME or --system "
                              f"({SYNTAX_HINT})")
        names = [s.name for s in self.systems]
        if len(set(names)) != len(names):
            raise ConfigError(f"system names must differ, got {', '.join(names)}; name them with --system NAME=...")
        if self.references is None and not (len(self.systems) == 1 and self.systems[0].kind == "predictions"):
            raise ConfigError("give --references (a build_dataset split such as DATASET_DIR/docdistill_val.json, or "
                              "a .jsonl of {id, image, reference}); only a lone --predictions file brings its own")
        if self.mine_system is not None and self.mine_system not in names:
            raise ConfigError(f"--mine-system {self.mine_system!r} is not one of the systems ({', '.join(names)})")


def gather(cfg: EvalConfig, tasks: dict) -> tuple[References, dict[str, dict[str, str]], dict[str, dict],
                                                   dict[str, dict]]:
    """References, then system -> item id -> prediction text, and endpoint and OCR statistics."""
    rows = {s.name: load_generated_predictions(Path(s.target)) for s in cfg.systems if s.kind == "predictions"}
    if cfg.references is not None:
        refs = load_references(cfg.references, tasks)
    else:
        only = cfg.systems[0]
        refs = references_from_predictions(rows[only.name], tasks, only.target)
    predictions: dict[str, dict[str, str]] = {}
    endpoints: dict[str, dict] = {}
    ocr: dict[str, dict] = {}
    for spec in cfg.systems:
        if spec.kind == "predictions" and cfg.references is None:
            predictions[spec.name] = {item.id: str(row.get("predict") or "") for item, row in
                                      zip(refs.items, [r for r in rows[spec.name] if _label_decodes(r)])}
        elif spec.kind == "predictions":
            predictions[spec.name] = predictions_by_line(rows[spec.name], refs.items, Path(spec.target))
        elif spec.kind == "teacher":
            from pipeline.evaluation.ocr_baseline import predict_offline
            predictions[spec.name], stats = predict_offline(refs.items, spec.target, spec.detail or cfg.ocr_lang,
                                                            tasks)
            ocr[spec.name] = stats.to_dict()
        elif spec.kind == "endpoint":
            settings = dataclasses.replace(cfg.endpoint, url=spec.target, model=spec.detail)
            predictions[spec.name], stats = predict_endpoint(refs.items, settings, tasks, cfg.out_dir / CACHE_FILENAME)
            endpoints[spec.name] = stats.to_dict()
        else:
            predictions[spec.name] = run_predictions(Path(spec.target), spec.detail)
    return refs, predictions, endpoints, ocr


def _label_decodes(row: dict) -> bool:
    try:
        json.loads(row.get("label") or "")
        return True
    except json.JSONDecodeError:
        return False


def _plain(score) -> dict:
    if dataclasses.is_dataclass(score):
        return dataclasses.asdict(score)
    return score.model_dump() if hasattr(score, "model_dump") else dict(vars(score))


def evaluate(cfg: EvalConfig) -> dict:
    tasks = load_tasks(cfg.extra_tasks)
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.mine is not None:    # before any prediction is asked for: a refusal costs nothing
        refuse_test_split(cfg.references, load_references(cfg.references, tasks).items if cfg.references else [])
    refs, predictions, endpoints, ocr = gather(cfg, tasks)
    comparison = compare(refs.items, predictions, tasks, weighting=cfg.anls_star_weighting,
                         normalization=cfg.normalization)
    if not comparison.items:
        raise ConfigError(f"no reference item has a prediction from every system (items without one: "
                          f"{comparison.lacking}); check that the systems ran on the pages of {refs.source}")
    result = {"references": len(refs.items), "reference_source": refs.source,
              "skipped_references": dict(refs.skipped), "items": len(comparison.items),
              "lacking": comparison.lacking, "normalization": describe(cfg.normalization),
              "systems": comparison.summaries, "by_task": comparison.by_task,
              "endpoints": endpoints, "ocr": ocr}
    with (cfg.out_dir / "scores.jsonl").open("w", encoding="utf-8") as fh:
        for name, scores in comparison.scores.items():
            for score in scores:
                fh.write(json.dumps({"system": name, **_plain(score)}, ensure_ascii=False, default=str) + "\n")
    if cfg.report:
        from pipeline.evaluation.report import write_report
        result["report"] = write_report(cfg.out_dir, comparison, result, cfg.worst)
    if cfg.mine is not None:
        system = cfg.mine_system or cfg.systems[0].name
        result["mined"] = {"system": system, **mine(comparison.items, comparison.scores[system], cfg.mine)}
    (cfg.out_dir / "results.json").write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str) + "\n",
                                              encoding="utf-8")
    return result
