"""``python -m pipeline.round DATASET_DIR``: one round of train -> predict -> evaluate -> mine, resumable.

Thin entry point: flags -> RoundConfig -> run_round -> summary (``--json``: one JSON object). Each
step is skipped when its output exists, so a killed round continues where it stopped when the same
command is run again; ``--round N`` picks the round (default: the unfinished one, else the next).
Everything is written inside DATASET_DIR: rounds/round_N/ (YAMLs, logs, evaluations), saves/NAME_rN/
(the round's adapter), the mined sets, rounds/history.json and rounds/report.html.
Exit codes (``pipeline.cli``): 0 round finished, 1 a step handed to --train-cmd/--predict-cmd has not
written its output yet (rerun once it has), 2 bad configuration, 3 a step failed (its log is named), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.cli import EXIT_CONFIG, EXIT_DONE, EXIT_INTERRUPTED, EXIT_STOPPED, EXIT_WORK_LEFT, exit_now, make_parser
from pipeline.dataset.lf_config import parse_overrides
from pipeline.errors import ConfigError, StepFailed, TaskError
from pipeline.evaluation.normalize import DEFAULT_NORMALIZATION, NORMALIZATIONS
from pipeline.evaluation.systems import parse_system
from pipeline.rounds import RoundConfig, run_round


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("python -m pipeline.round", __doc__)
    parser.add_argument("dataset_dir", type=Path, help="a dataset folder written by python -m pipeline.build_dataset")
    parser.add_argument("--round", type=int, help="the round to run or continue (default: the unfinished one, "
                                                  "else the next)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a key in every YAML the round writes (repeatable), e.g. --set max_steps=3")
    parser.add_argument("--from-previous", action="store_true",
                        help="start training from the previous round's adapter (default: from the base model)")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best",
                        help="best: keep the checkpoint with the lowest eval loss on val while val is unseen "
                             "(load_best_model_at_end); once val is mined, always the last one")
    parser.add_argument("--train-cmd", metavar="CMD",
                        help="your own launcher for training (shell; {yaml} is the train YAML, relative to "
                             "DATASET_DIR, appended when absent): torchrun, sbatch, a remote box. The round picks "
                             "the result up when saves/NAME_rN/trainer_state.json appears")
    parser.add_argument("--predict-cmd", metavar="CMD", help="the same for the two predict runs (val, test)")
    parser.add_argument("--system", dest="systems", action="append", default=[], metavar="NAME=KIND:ARG",
                        help="another system in every evaluation, as python -m pipeline.evaluate takes it "
                             "(e.g. ocr=tesseract)")
    parser.add_argument("--normalize", choices=NORMALIZATIONS, default=DEFAULT_NORMALIZATION,
                        help="text normalisation for the scores (as in pipeline.evaluate)")
    parser.add_argument("--pass-score", type=float, default=0.9, help="items below this ANLS* count as failed")
    parser.add_argument("--top-n", type=int, default=20, help="hard items mined per failure type and overall")
    parser.add_argument("--oversample", type=int, default=3, help="how often training sees each mined record")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    return parser


def format_summary(summary: dict) -> str:
    lines = [f"round {summary['round']} in {summary['round_dir']}: {summary['status']}"]
    lines += [f"  {step:<18} {state}" for step, state in summary["steps"].items()]
    if summary["status"] == "waiting":
        lines.append(f"  {summary['hint']}")
        return "\n".join(lines)
    for split in ("test", "val"):
        metrics = summary.get(split) or {}
        if "anls_star" in metrics:
            seen = " (seen in training: mined val pages are in this round's training set)" \
                if split == "val" and summary["val_seen_in_training"] else ""
            lines.append(f"  {split} anls_star {metrics['anls_star']:.3f}{seen}")
    lines.append(f"  adapter: {summary['adapter']} (trained on {', '.join(summary['datasets'])})")
    drops = {k: v for k, v in summary["cutoff_drops"].items() if v}
    if drops:
        lines.append(f"  dropped as longer than cutoff_len: {drops}")
    lines.append(f"  regressions ({summary['regressions']['split']}): {len(summary['regressions']['items'])}")
    lines.append(f"  report: {summary['report']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.oversample < 1 or args.top_n < 1:
            raise ConfigError("--oversample and --top-n must be at least 1")
        cfg = RoundConfig(args.dataset_dir, args.round, parse_overrides(args.overrides), args.train_cmd,
                          args.predict_cmd, args.from_previous, args.checkpoint,
                          tuple(parse_system(s) for s in args.systems), args.normalize, args.pass_score, args.top_n,
                          args.oversample)
        summary = run_round(cfg)
    except (ConfigError, TaskError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (StepFailed, OSError) as exc:
        print(f"stopped: {exc}; finished steps are kept and not redone", file=sys.stderr)
        return EXIT_STOPPED
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to continue (finished steps are not redone)", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(json.dumps(summary, ensure_ascii=False, default=str) if args.json else format_summary(summary))
    return EXIT_WORK_LEFT if summary["status"] == "waiting" else EXIT_DONE


if __name__ == "__main__":
    exit_now(main())
