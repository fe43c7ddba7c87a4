"""``python -m pipeline.export RUN_DIR --out DIR [--format json|jsonl|md] [--task T] [--teacher T]``: a run's
labels as files, named after the source documents.

Any run folder: teacher labels from distill, student answers from extract. Writes
``DIR/docs/<relative path>.json`` (and ``.md``) per document and ``DIR/results.jsonl`` (one line per
page and task); see ``pipeline.dataset.export``. Exit codes: 0 written, 2 bad configuration (not a run
folder, a filter that keeps nothing: nothing written), 3 the disk stopped it.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from pipeline.dataset.export import FORMATS, ExportConfig, check_filters, export_run
from pipeline.errors import ConfigError, StoreError
from pipeline.store import STORE_FILENAME, RunStore


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline.export", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run folder (python -m pipeline.distill or pipeline.extract)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (files in it are replaced)")
    parser.add_argument("--format", dest="formats", action="append", choices=FORMATS,
                        help="json: one file per document; md: its markdown; jsonl: results.jsonl "
                             "(repeatable; default all three)")
    parser.add_argument("--task", dest="tasks", action="append", help="only this task (repeatable)")
    parser.add_argument("--teacher", help="only labels from this teacher (student: extract's answers)")
    parser.add_argument("--model", help="only labels from this model")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    return parser


def format_summary(summary: dict) -> str:
    files = ", ".join(f"{n} {fmt}" for fmt, n in summary["files"].items())
    lines = [f"export: {summary['documents']} document(s) ({summary['skipped_documents']} skipped) -> "
             f"{summary['out_dir']} ({files})"]
    for task, counts in summary["outcomes"].items():
        lines.append(f"  {task:<12} " + ", ".join(f"{o} {n}" for o, n in counts.items()))
    if summary["failures_total"]:
        lines.append(f"  {summary['failures_total']} page/task without a valid answer: see results.jsonl")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not (args.run_dir / STORE_FILENAME).is_file():
            raise ConfigError(f"{args.run_dir} is not a docdistill run folder (no {STORE_FILENAME})")
        cfg = ExportConfig(out_dir=args.out, formats=tuple(dict.fromkeys(args.formats or FORMATS)),
                           tasks=tuple(args.tasks or ()), teacher=args.teacher, model=args.model)
        with RunStore(args.run_dir) as store:
            check_filters(store, cfg)
            summary = export_run(store, cfg).to_dict()
    except (ConfigError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (sqlite3.OperationalError, OSError) as exc:
        print(f"stopped: {type(exc).__name__}: {exc}; the run folder is untouched: fix the cause and rerun",
              file=sys.stderr)
        return 3
    print(json.dumps(summary, ensure_ascii=False) if args.json else format_summary(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
