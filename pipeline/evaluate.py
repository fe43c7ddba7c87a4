"""``python -m pipeline.evaluate``: score a student (and any other system) against references.

Thin entry point: flags -> EvalConfig -> references -> each system's predictions -> scores on the
common items -> report (report.md, report.html, PNGs) -> optional failure mining -> summary
(``--json``: one JSON object on stdout). Systems, scored on the same items:

  --predictions FILE              LLaMA-Factory generated_predictions.jsonl (alone, its labels are the references)
  --endpoint URL --model NAME     a live OpenAI-compatible server (llamafactory-cli api, vLLM)
  --system NAME=predictions:FILE | NAME=endpoint:URL#MODEL | NAME=run:RUN_DIR[#TEACHER]
           | NAME=TEACHER[:LANGS]   (repeatable; an offline teacher on the reference pages: ocr=tesseract)

Exit codes (``pipeline.cli``, the same for every command): 0 done, 1 done but some endpoint
answers failed for a transient reason (a rerun sends only those: the others are cached), 2 bad
configuration (missing file, unknown --system syntax, misaligned predictions, --out not a
writable folder), 3 the endpoint refused us (API key, model name), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.cli import EXIT_CONFIG, EXIT_DONE, EXIT_INTERRUPTED, EXIT_STOPPED, EXIT_WORK_LEFT, check_out_dir, \
    exit_now, make_parser

from pipeline.errors import ConfigError, EndpointError, StoreError, TaskError
from pipeline.evaluation.endpoint import EndpointConfig
from pipeline.evaluation.mine import MineConfig
from pipeline.evaluation.normalize import DEFAULT_NORMALIZATION, NORMALIZATIONS
from pipeline.evaluation.run import EvalConfig, evaluate
from pipeline.evaluation.systems import SystemSpec, parse_system


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("python -m pipeline.evaluate", __doc__,
                         epilog="systems (scored on the same items):\n" + "\n".join(__doc__.splitlines()[6:11]))
    parser.add_argument("--references", type=Path, help="DATASET_DIR/<name>_val.json or a .jsonl of {id, image, "
                                                        "reference, task}")
    parser.add_argument("--predictions", type=Path, help="generated_predictions.jsonl (system 'student')")
    parser.add_argument("--endpoint", help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1 "
                                           "(system 'student')")
    parser.add_argument("--model", help="the model name the endpoint serves")
    parser.add_argument("--system", dest="systems", action="append", default=[], metavar="NAME=KIND:ARG",
                        help="another system (repeatable): NAME=predictions:FILE, NAME=endpoint:URL#MODEL, "
                             "NAME=run:RUN_DIR[#TEACHER], NAME=TEACHER[:LANGS] (an offline teacher, e.g. ocr=tesseract: traditional OCR)")
    parser.add_argument("--task", dest="tasks", action="append", default=[], help="a custom task.yaml (repeatable)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the report, results and endpoint cache")
    parser.add_argument("--json", action="store_true", help="print every metric as one JSON object")
    parser.add_argument("--no-report", action="store_true", help="scores only: no report files")
    parser.add_argument("--worst", type=int, default=8, help="worst items shown per system (default 8)")
    parser.add_argument("--anls-star-weighting", choices=("leaf", "key"), default="leaf",
                        help="leaf: the ANLS* paper's (leaf scores over leaves compared; metric anls_star, comparable "
                             "with published figures); key: every key and list item weighs the same (anls_star_key)")
    parser.add_argument("--normalize", choices=NORMALIZATIONS, default=DEFAULT_NORMALIZATION,
                        help="text normalisation for CER/NED/WER and ANLS* (raw scores are kept beside): none, "
                             "basic (NFKC, bidi marks, digits to ASCII, tatweel, white space), arabic (basic + "
                             f"harakat removed, alef/yeh/teh marbuta unified); default {DEFAULT_NORMALIZATION}")
    parser.add_argument("--ocr-lang", default="ara+eng", help="Tesseract languages for NAME=tesseract systems "
                                                              "(default ara+eng)")
    group = parser.add_argument_group("endpoint")
    group.add_argument("--guided", action="store_true", help="schema-constrained decoding (json_schema + vLLM "
                                                             "structured_outputs)")
    group.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    group.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (0: greedy)")
    group.add_argument("--max-tokens", type=int, default=4096, help="answer length cap per request")
    group.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    group.add_argument("--max-attempts", type=int, default=4, help="per request, retries of 429/5xx/timeouts included")
    group = parser.add_argument_group("failure mining")
    group.add_argument("--mine", type=Path, metavar="DIR", help="write the regression and hard sets here (e.g. the "
                                                                "dataset folder of the next build)")
    group.add_argument("--mine-system", help="the system whose failures are mined (default: the first one)")
    group.add_argument("--mine-name", default="docdistill_mined",
                       help="dataset name prefix: NAME_regression and NAME_hard in DIR/dataset_info.json")
    group.add_argument("--top-n", type=int, default=20, help="hard items kept per failure type and overall")
    group.add_argument("--oversample", type=int, default=3,
                       help="how often training sees each mined record (num_samples = records x this)")
    group.add_argument("--pass-score", type=float, default=0.9,
                       help="items scoring below this ANLS* count as failed (and are mined)")
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
                      args.worst, mining, args.mine_system, args.anls_star_weighting, args.normalize, args.ocr_lang)


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


# Endpoint failures a rerun may not get again (the rest: a 400 for a too-long page, a missing image).
_TRANSIENT_FAILURES = ("http_429", "http_5", "timeout", "connection_error")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = to_config(args)
        check_out_dir(cfg.out_dir)
        if cfg.mine is not None:
            check_out_dir(cfg.mine.out_dir, "--mine")
        result = evaluate(cfg)
    except (ConfigError, TaskError, StoreError, EndpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STOPPED if isinstance(exc, EndpointError) else EXIT_CONFIG
    except KeyboardInterrupt:
        print(f"interrupted: endpoint answers received so far are cached in {args.out}; rerun the same command to "
              "continue (they are not sent again)", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(json.dumps(result, ensure_ascii=False, default=str) if args.json else format_summary(result))
    retry = {f"{name} {reason} {n}" for name, stats in result["endpoints"].items()
             for reason, n in stats["failed"].items() if reason.startswith(_TRANSIENT_FAILURES)}
    if retry:
        print(f"incomplete: endpoint requests failed for a transient reason ({', '.join(sorted(retry))}); rerun "
              "the same command to send only those again", file=sys.stderr)
        return EXIT_WORK_LEFT
    return EXIT_DONE


if __name__ == "__main__":
    exit_now(main())
