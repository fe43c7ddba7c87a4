"""``python -m pipeline.evaluate``: score a student (and any other system) against references.

Thin entry point: flags -> EvalConfig -> references -> each system's predictions -> scores on the
common items -> report (report.md, report.html, PNGs) -> optional failure mining -> summary
(``--json``: one JSON object on stdout). Systems, scored on the same items:

  --predictions FILE              LLaMA-Factory generated_predictions.jsonl (alone, its labels are the references)
  --endpoint URL --model NAME     a live OpenAI-compatible server (llamafactory-cli api, vLLM)
  --system NAME=predictions:FILE | NAME=endpoint:URL#MODEL | NAME=run:RUN_DIR[#TEACHER]   (repeatable)

Exit codes: 0 done, 2 bad configuration (missing file, unknown --system syntax, misaligned
predictions), 3 the endpoint refused us (API key, model name).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import ConfigError
from pipeline.evaluation.endpoint import CACHE_FILENAME, EndpointConfig, EndpointError, predict_endpoint
from pipeline.evaluation.inputs import (References, load_generated_predictions, load_references, load_tasks,
                                        predictions_by_line, references_from_predictions)
from pipeline.evaluation.mine import MineConfig, mine
from pipeline.evaluation.systems import SYNTAX_HINT, SystemSpec, compare, parse_system, run_predictions


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

    def __post_init__(self) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline.evaluate", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="systems (scored on the same items):\n"
                                            + "\n".join(__doc__.splitlines()[6:10]))
    parser.add_argument("--references", type=Path, help="DATASET_DIR/<name>_val.json or a .jsonl of {id, image, "
                                                        "reference, task}")
    parser.add_argument("--predictions", type=Path, help="generated_predictions.jsonl (system 'student')")
    parser.add_argument("--endpoint", help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1 "
                                           "(system 'student')")
    parser.add_argument("--model", help="the model name the endpoint serves")
    parser.add_argument("--system", dest="systems", action="append", default=[], metavar="NAME=KIND:ARG",
                        help="another system (repeatable): NAME=predictions:FILE, NAME=endpoint:URL#MODEL, "
                             "NAME=run:RUN_DIR[#TEACHER]")
    parser.add_argument("--task", dest="tasks", action="append", default=[], help="a custom task.yaml (repeatable)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the report, results and endpoint cache")
    parser.add_argument("--json", action="store_true", help="print every metric as one JSON object")
    parser.add_argument("--no-report", action="store_true", help="scores only: no report files")
    parser.add_argument("--worst", type=int, default=8, help="worst items shown per system (default 8)")
    parser.add_argument("--anls-star-weighting", choices=("leaf", "key"), default="leaf",
                        help="leaf: the ANLS* paper's (leaf scores over leaves compared; metric anls_star, comparable "
                             "with published figures); key: every key and list item weighs the same (anls_star_key)")
    group = parser.add_argument_group("endpoint")
    group.add_argument("--guided", action="store_true", help="schema-constrained decoding (json_schema + vLLM "
                                                             "structured_outputs)")
    group.add_argument("--concurrency", type=int, default=4)
    group.add_argument("--temperature", type=float, default=0.0)
    group.add_argument("--max-tokens", type=int, default=4096)
    group.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    group.add_argument("--max-attempts", type=int, default=4, help="per request, retries of 429/5xx/timeouts included")
    group = parser.add_argument_group("failure mining")
    group.add_argument("--mine", type=Path, metavar="DIR", help="write the regression and hard sets here (e.g. the "
                                                                "dataset folder of the next build)")
    group.add_argument("--mine-system", help="the system whose failures are mined (default: the first one)")
    group.add_argument("--mine-name", default="docdistill_mined", help="dataset name prefix")
    group.add_argument("--top-n", type=int, default=20, help="hard items per failure type and overall")
    group.add_argument("--oversample", type=int, default=3, help="num_samples = records x this")
    group.add_argument("--pass-score", type=float, default=0.9, help="items below this ANLS* count as failed")
    return parser


def to_config(args: argparse.Namespace) -> EvalConfig:
    systems: list[SystemSpec] = []
    if args.predictions and args.endpoint:
        raise ConfigError("--predictions and --endpoint both name the system 'student'; use --system NAME=... "
                          "for the second one")
    if args.predictions:
        systems.append(SystemSpec("student", "predictions", str(args.predictions)))
    if args.endpoint:
        if not args.model:
            raise ConfigError("--endpoint needs --model (the name the server serves)")
        systems.append(SystemSpec("student", "endpoint", args.endpoint, args.model))
    systems += [parse_system(text) for text in args.systems]
    if args.concurrency < 1 or args.max_attempts < 1 or args.oversample < 1 or args.top_n < 1:
        raise ConfigError("--concurrency, --max-attempts, --oversample and --top-n must be at least 1")
    endpoint = EndpointConfig("", "", guided=args.guided, concurrency=args.concurrency, temperature=args.temperature,
                              max_tokens=args.max_tokens, timeout_s=args.timeout, max_attempts=args.max_attempts)
    mining = MineConfig(args.mine, args.mine_name, args.top_n, args.oversample, args.pass_score) if args.mine else None
    return EvalConfig(args.out, tuple(systems), args.references, tuple(args.tasks), endpoint, not args.no_report,
                      args.worst, mining, args.mine_system, args.anls_star_weighting)


def gather(cfg: EvalConfig, tasks: dict) -> tuple[References, dict[str, dict[str, str]], dict[str, dict]]:
    """References, then system -> item id -> prediction text, and endpoint statistics."""
    rows = {s.name: load_generated_predictions(Path(s.target)) for s in cfg.systems if s.kind == "predictions"}
    if cfg.references is not None:
        refs = load_references(cfg.references, tasks)
    else:
        only = cfg.systems[0]
        refs = references_from_predictions(rows[only.name], tasks, only.target)
    predictions: dict[str, dict[str, str]] = {}
    endpoints: dict[str, dict] = {}
    for spec in cfg.systems:
        if spec.kind == "predictions" and cfg.references is None:
            predictions[spec.name] = {item.id: str(row.get("predict") or "") for item, row in
                                      zip(refs.items, [r for r in rows[spec.name] if _label_decodes(r)])}
        elif spec.kind == "predictions":
            predictions[spec.name] = predictions_by_line(rows[spec.name], refs.items, Path(spec.target))
        elif spec.kind == "endpoint":
            settings = dataclasses.replace(cfg.endpoint, url=spec.target, model=spec.detail)
            predictions[spec.name], stats = predict_endpoint(refs.items, settings, tasks, cfg.out_dir / CACHE_FILENAME)
            endpoints[spec.name] = stats.to_dict()
        else:
            predictions[spec.name] = run_predictions(Path(spec.target), spec.detail)
    return refs, predictions, endpoints


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
    refs, predictions, endpoints = gather(cfg, tasks)
    comparison = compare(refs.items, predictions, tasks, weighting=cfg.anls_star_weighting)
    if not comparison.items:
        raise ConfigError(f"no reference item has a prediction from every system (items without one: "
                          f"{comparison.lacking}); check that the systems ran on the pages of {refs.source}")
    result = {"references": len(refs.items), "reference_source": refs.source,
              "skipped_references": dict(refs.skipped), "items": len(comparison.items),
              "lacking": comparison.lacking, "systems": comparison.summaries, "by_task": comparison.by_task,
              "endpoints": endpoints}
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


def format_summary(result: dict) -> str:
    lines = [f"evaluated {result['items']} items (of {result['references']} references; without a prediction: "
             f"{result['lacking']})"]
    if result["skipped_references"]:
        lines.append(f"  references left out: {result['skipped_references']}")
    for name, summary in result["systems"].items():
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in (summary.get("metrics") or {}).items()
                            if isinstance(v, (int, float)))
        failures = ", ".join(f"{k} {v}" for k, v in (summary.get("failures") or {}).items()) or "none"
        lines.append(f"  {name}: {metrics}; failures: {failures}")
    for name, stats in result["endpoints"].items():
        lines.append(f"  endpoint {name}: {stats['sent']} sent, {stats['cached']} cached, failed {stats['failed']}")
    if "report" in result:
        lines.append(f"  report: {result['report']['html']}")
    if "mined" in result:
        m = result["mined"]
        lines.append(f"  mined ({m['system']}): regression {m['regression']} (+{m['regression_new']}), "
                     f"hard {m['hard']}, x{m['oversample']} in {m['dir']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = evaluate(to_config(args))
    except (ConfigError, ValueError, RuntimeError) as exc:
        code = 3 if isinstance(exc, EndpointError) else 2
        print(f"error: {exc}", file=sys.stderr)
        return code
    print(json.dumps(result, ensure_ascii=False, default=str) if args.json else format_summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
