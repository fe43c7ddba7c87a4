"""``python -m pipeline.review RUN_DIR``: a local page to look at labels beside their pages, fix and sign them off.

Thin entry point: flags -> ReviewConfig -> queues in the run store -> uvicorn on 127.0.0.1 with a
random token in the printed URL (open it in a browser on this machine). Verdicts are stored as they
are made; Ctrl-C stops the server (exit 0: nothing is lost). ``--export-label-studio`` and
``--import-label-studio`` write or read Label Studio's JSON instead of serving. Exit codes
(``pipeline.cli``): 0 stopped or done, 2 bad configuration, 3 the run store cannot be used.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from pipeline.cli import EXIT_CONFIG, EXIT_DONE, EXIT_STOPPED, exit_now, make_parser
from pipeline.errors import ConfigError, StoreError
from pipeline.review.queues import QUEUE_TITLES


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("python -m pipeline.review", __doc__)
    parser.add_argument("run_dir", type=Path, help="a run folder written by python -m pipeline.distill")
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--reviewer", help="your name in the audit trail (default: the OS user)")
    parser.add_argument("--pdf-dir", type=Path, help="distill's input folder: the textlayer teacher prefills "
                                                     "pages that were never sent from their PDFs")
    parser.add_argument("--prefill-endpoint", metavar="URL#MODEL",
                        help="a local student server (OpenAI-compatible) that prefills pages never sent, e.g. "
                             "http://127.0.0.1:8000/v1#student (only this machine or your private network)")
    parser.add_argument("--eval-dir", type=Path, help="evaluate's --out (run with --mine) or its --mine folder: "
                                                      "a queue of the mined failures")
    parser.add_argument("--password", action="append", default=[],
                        help="password to try on encrypted PDFs for the textlayer prefill (repeatable), as for distill")
    parser.add_argument("--passwords", type=Path, help="JSON/YAML map of file name -> password (distill's file)")
    parser.add_argument("--sample", type=int, default=50, help="valid labels in the random spot-check queue")
    parser.add_argument("--seed", type=int, default=0, help="seed of the spot-check sample")
    group = parser.add_argument_group("Label Studio (instead of serving)")
    group.add_argument("--export-label-studio", type=Path, metavar="FILE",
                       help="write the queues as Label Studio import JSON (tasks with image + predictions)")
    group.add_argument("--import-label-studio", type=Path, metavar="FILE",
                       help="read a Label Studio JSON export back as verdicts (edit or accept; cancelled: reject)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from pipeline.render.pdfio import load_passwords_file
        from pipeline.review.setup import ReviewConfig, review_app

        cfg = ReviewConfig(run_dir=args.run_dir, reviewer=args.reviewer or getpass.getuser(), pdf_dir=args.pdf_dir,
                           prefill_endpoint=args.prefill_endpoint, eval_dir=args.eval_dir, sample_size=args.sample,
                           seed=args.seed, passwords=tuple(args.password),
                           passwords_by_name=load_passwords_file(args.passwords) if args.passwords else {})
        if args.export_label_studio or args.import_label_studio:
            return label_studio(cfg, args)
        app, token, counts = review_app(cfg)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StoreError as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return EXIT_STOPPED
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning"))
    for queue, count in counts.items():
        print(f"  {QUEUE_TITLES[queue]:<32} {count}")
    print(f"reviewer: {cfg.reviewer}")
    # The port is known once bound (--port 0): print the URL from the started server.
    original_startup = server.startup

    async def startup(sockets=None):
        await original_startup(sockets)
        port = server.servers[0].sockets[0].getsockname()[1] if server.servers else args.port
        print(f"open http://127.0.0.1:{port}/?token={token}  (Ctrl-C stops; every verdict is already stored)",
              flush=True)

    server.startup = startup
    server.run()
    return EXIT_DONE


def label_studio(cfg, args: argparse.Namespace) -> int:
    from pipeline.review.labelstudio import export_tasks, import_annotations

    if args.export_label_studio:
        summary = export_tasks(cfg, args.export_label_studio)
    else:
        summary = import_annotations(cfg, args.import_label_studio)
    print(json.dumps(summary, ensure_ascii=False))
    return EXIT_DONE


if __name__ == "__main__":
    exit_now(main())
