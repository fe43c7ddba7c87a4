"""``python -m pipeline.distill PDF_DIR --out RUN_DIR``: render every page, then label it.

Thin entry point: parse flags, build one typed config, call the stage functions, print a
summary (or one JSON object with ``--json``). Only this module turns exceptions into messages
and exit codes (``pipeline.cli``, the same for every command): 0 done (skipped files and failed
pages are outcomes, not errors), 1 work left that a rerun continues (transient failures, a
--max-cost stop, batch jobs to collect), 2 bad configuration or input (nothing was started, or
nothing usable came of it: no documents found, no page rendered, no usable label), 3 stopped (the
teacher refused us, the store cannot be written; everything before is kept), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from pipeline.cli import EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_STOPPED, EXIT_WORK_LEFT, check_out_dir, exit_now, make_parser
from pipeline.distill_report import Verdict, format_label_summary, format_render_summary, interrupted_line, verdict
from pipeline.label.batch.run import BatchConfig, BatchSummary, format_batch, run_batch
from pipeline.render.config import DEFAULT_LONGEST_SIDE, DEFAULT_MAX_PIXELS, ENHANCE_METHODS, IMAGE_FORMATS, \
    ConfigError, RenderConfig, RenderRunConfig
from pipeline.label.cost import load_prices
from pipeline.label.privacy import load_policy
from pipeline.label.sources import PageSources
from pipeline.label.stage import LabelConfig, check_one_request_per_page, label_pages
from pipeline.render.discover import DOCUMENT_KINDS, Selection, iter_inputs
from pipeline.render.pdfio import load_passwords_file
from pipeline.render.stage import render_folder
from pipeline.shard import Shard
from pipeline.store import RunStore, StoreError
from pipeline.tasks import DEFAULT_TASKS, TaskError, builtin_task_names, resolve_tasks
from pipeline.teachers import DEFAULT_MODELS, DEFAULT_TEACHER, TEACHER_NAMES, TeacherConfigError, \
    TeacherFatalError, TeacherSettings, batch_teacher_names, make_teacher, teacher_class
from pipeline.label.tracking import log_run, require_wandb


def build_parser() -> argparse.ArgumentParser:
    parser = make_parser("python -m pipeline.distill", __doc__)
    parser.add_argument("pdf_dir", type=Path, help="folder searched recursively for documents: *.pdf and image "
                                                   "scans *.tif/*.tiff (a page per frame), *.png, *.jpg/*.jpeg, "
                                                   "*.webp (any case)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (created; resumable)")
    parser.add_argument("--render-only", action="store_true", help="render pages, do not label them")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    group = parser.add_argument_group("opening")
    group.add_argument("--password", action="append", default=[],
                       help="password to try on encrypted PDFs (repeatable); prefer --passwords FILE")
    group.add_argument("--passwords", type=Path, help="JSON/YAML map of file name -> password")
    group.add_argument("--follow-symlinks", action="store_true",
                       help="read link targets, even outside PDF_DIR (default: links are skipped:symlink, unread)")
    group.add_argument("--include", action="append", default=[], metavar="GLOB",
                       help="only inputs matching a glob (repeatable): without '/', the file name at any depth "
                            "('*.tif'); with '/', the path under PDF_DIR ('2024/*')")
    group.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                       help="leave out inputs matching a glob (repeatable; wins over --include)")
    group = parser.add_argument_group("rendering")
    group.add_argument("--longest-side", type=int, default=DEFAULT_LONGEST_SIDE,
                       help=f"target longest side in px (default {DEFAULT_LONGEST_SIDE})")
    group.add_argument("--max-pixels", type=int, default=None,
                       help=f"pixel cap per page (default: longest-side squared, {DEFAULT_MAX_PIXELS} at the default)")
    group.add_argument("--enhance", choices=ENHANCE_METHODS, default="clahe",
                       help="contrast enhancement on luminance (default clahe)")
    group.add_argument("--enhance-all-pages", action="store_true",
                       help="enhance every page, not only low-contrast ones (scans, faded ink)")
    group.add_argument("--grayscale", action="store_true", help="render in grayscale")
    group.add_argument("--format", dest="image_format", choices=IMAGE_FORMATS, default="jpeg",
                       help="page image encoding (never WebP: the LLaMA-Factory API server rejects it)")
    group.add_argument("--jpeg-quality", type=int, default=90, help="JPEG quality, 1..100")
    group.add_argument("--workers", type=int, default=1, help="render processes (default 1)")
    group = parser.add_argument_group("labelling")
    group.add_argument("--teacher", choices=TEACHER_NAMES, default=DEFAULT_TEACHER,
                       help=f"who labels the pages (default {DEFAULT_TEACHER}: offline, from the PDF's text layer; "
                            "tesseract: offline OCR)")
    group.add_argument("--task", dest="tasks", action="append",
                       help=f"a built-in task ({', '.join(builtin_task_names())}) or the path to a task.yaml "
                            f"(repeatable; default {' + '.join(DEFAULT_TASKS)})")
    group.add_argument("--model", help="teacher model (default: the teacher's own: " + ", ".join(
        f"{t} {m}" for t, m in DEFAULT_MODELS.items() if m) + "; openai-compatible needs --model)")
    group.add_argument("--base-url", help="API endpoint (a gateway, a stub, or your own vLLM / llamafactory-cli api)")
    group.add_argument("--temperature", type=float, default=0.0, help="sampling temperature of API teachers")
    group.add_argument("--max-output-tokens", type=int, default=8192,
                       help="answer length cap; an answer cut off there is recorded truncated")
    group.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    group.add_argument("--image-detail", choices=("low", "high", "auto"), default="high", help="OpenAI image detail")
    group.add_argument("--json-mode", choices=("schema", "object", "none"), default="schema",
                       help="schema: the request carries the task's JSON Schema and the prompt does not quote it; "
                            "object: plain JSON mode, the schema quoted in the prompt; none: neither "
                            "(openai-compatible: server support varies)")
    group.add_argument("--ocr-lang", default="ara+eng", metavar="LANGS",
                       help="Tesseract languages for --teacher tesseract and the OCR fallback (default ara+eng)")
    group.add_argument("--ocr-fallback", choices=("auto", "never", "always"), default="auto",
                       help="textlayer: OCR pages without a text layer (scans, image documents) with Tesseract: "
                            "auto (when installed; default), never, always (a missing Tesseract is an error)")
    group.add_argument("--anchor", action="store_true",
                       help="add a bounded excerpt of the page's text layer to the teacher prompt")
    group.add_argument("--one-request-per-page", action="store_true",
                       help="answer every task of a page in one request (one image, one cached prompt; each "
                            "task's part validated and repaired on its own); default: one request per task")
    group.add_argument("--pages-per-request", type=int, default=1, metavar="N",
                       help="N pages in one request, every task of each (the prompt and schema paid once for N "
                            "pages; pages of different documents may share a request); default 1")
    group.add_argument("--no-repair", action="store_true", help="no re-ask quoting validation errors")
    group.add_argument("--retry-failed", action="store_true",
                       help="send failed requests again (transient failures are always retried)")
    group = parser.add_argument_group("scale, cost, privacy (API teachers)")
    group.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    group.add_argument("--rpm", type=float, help="requests per minute, at most (your provider tier's limit)")
    group.add_argument("--tpm", type=float, help="tokens per minute, at most (estimated before each request)")
    group.add_argument("--max-attempts", type=int, default=5,
                       help="tries per request on 429/5xx/timeouts (backoff with jitter, Retry-After honoured); "
                            "also bounds re-asks of invalid answers at rising temperature (default 5)")
    group.add_argument("--max-cost", type=float, metavar="USD",
                       help="stop sending once spent + in-flight would exceed this many USD")
    group.add_argument("--prices", type=Path, metavar="FILE",
                       help="price table YAML (default: the one shipped with docdistill, pipeline/label/prices.yaml)")
    group.add_argument("--dry-run", action="store_true",
                       help="render, then print pages, estimated tokens and cost; send nothing")
    group.add_argument("--allow-sensitive", action="store_true",
                       help="send every page as it is to a cloud teacher, personal data and all: nothing is "
                            "checked (the explicit switch; prefer --privacy-policy)")
    group.add_argument("--privacy-policy", type=Path, metavar="FILE",
                       help="YAML: allow/redact/block per kind and class of personal data, allowlisted domains and "
                            "numbers (default: pipeline/label/privacy/default_policy.yaml; README 'Privacy')")
    group = parser.add_argument_group("batch, scale-out, tracking")
    group.add_argument("--batch", action="store_true",
                       help="label through the provider's Batch API (openai, gemini: half price, answers within "
                            "24 h): collect finished jobs, submit the rest; rerun or --collect later")
    group.add_argument("--collect", action="store_true", help="only collect finished batch jobs, submit nothing")
    group.add_argument("--wait", action="store_true", help="with --batch/--collect: poll until every job is collected")
    group.add_argument("--poll-interval", type=float, default=60.0, metavar="SECONDS",
                       help="seconds between polls with --wait")
    group.add_argument("--batch-size", type=int, help="requests per batch job (default: the provider's limit)")
    group.add_argument("--shard", help="I/N: only this machine's part of the folder (by document content hash); "
                                       "combine the run folders with python -m pipeline.merge")
    group.add_argument("--wandb", metavar="PROJECT",
                       help="log figures and sample labels to Weights & Biases (WANDB_MODE=offline works)")
    return parser


def render_config_from_args(args: argparse.Namespace) -> RenderRunConfig:
    render = RenderConfig(
        longest_side=args.longest_side,
        max_pixels=args.max_pixels or args.longest_side * args.longest_side,
        enhance=args.enhance, enhance_pages="always" if args.enhance_all_pages else "low-contrast",
        grayscale=args.grayscale, image_format=args.image_format,
        jpeg_quality=args.jpeg_quality)
    by_name = load_passwords_file(args.passwords) if args.passwords else {}
    return RenderRunConfig(pdf_dir=args.pdf_dir, run_dir=args.out, render=render, workers=args.workers,
                           passwords=tuple(args.password), passwords_by_name=by_name,
                           shard=Shard.parse(args.shard) if args.shard else None,
                           follow_symlinks=args.follow_symlinks,
                           selection=Selection(tuple(args.include), tuple(args.exclude)))


def teacher_settings_from_args(args: argparse.Namespace) -> TeacherSettings:
    return TeacherSettings(model=args.model, base_url=args.base_url, temperature=args.temperature,
                           max_output_tokens=args.max_output_tokens, timeout_s=args.timeout,
                           image_detail=args.image_detail, json_mode=args.json_mode, ocr_lang=args.ocr_lang,
                           ocr_fallback=args.ocr_fallback)


def label_config_from_args(args: argparse.Namespace) -> LabelConfig:
    return LabelConfig(tasks=tuple(resolve_tasks(args.tasks or list(DEFAULT_TASKS))), anchor=args.anchor,
                       repair=not args.no_repair, retry_failed=args.retry_failed, concurrency=args.concurrency,
                       rpm=args.rpm, tpm=args.tpm, max_attempts=args.max_attempts, max_cost_usd=args.max_cost,
                       prices=load_prices(args.prices) if args.prices else None,
                       allow_sensitive=args.allow_sensitive, dry_run=args.dry_run,
                       privacy_policy=load_policy(args.privacy_policy),
                       one_request_per_page=args.one_request_per_page, pages_per_request=args.pages_per_request)


def _batch_config(args: argparse.Namespace) -> BatchConfig | None:
    if not (args.batch or args.collect):
        return None
    if args.render_only:
        raise ConfigError("--batch/--collect label pages: drop --render-only")
    if not teacher_class(args.teacher).has_batch_api:
        raise ConfigError(f"--batch/--collect work with --teacher {' or '.join(batch_teacher_names())}, not "
                          f"{args.teacher!r} (a local or offline teacher has no Batch API: label online)")
    return BatchConfig(submit=not args.collect, wait=args.wait, poll_interval_s=args.poll_interval,
                       max_requests_per_job=args.batch_size)


def _tracked_config(args: argparse.Namespace, teacher) -> dict:
    """What W&B may see of the run's settings: chosen field by field (no passwords, no keys)."""
    return {"teacher": teacher.name if teacher else None, "model": teacher.model if teacher else None,
            "tasks": args.tasks or list(DEFAULT_TASKS), "longest_side": args.longest_side,
            "format": args.image_format, "enhance": args.enhance, "anchor": args.anchor,
            "batch": bool(args.batch or args.collect), "shard": args.shard,
            "one_request_per_page": args.one_request_per_page, "pages_per_request": args.pages_per_request}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt as exc:     # Ctrl-C: one line, no traceback; every stored answer is kept
        print(str(exc) or f"interrupted before anything was stored in {args.out}; rerun the same command",
              file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    render_summary = label_summary = None
    try:
        cfg = render_config_from_args(args)
        batch_cfg = _batch_config(args)
        if args.wandb:
            require_wandb()               # fails before any work, with the install hint
        check_out_dir(cfg.run_dir)
        if next(iter(iter_inputs(cfg.pdf_dir, cfg.follow_symlinks)), None) is None:
            raise ConfigError(f"no documents found under {cfg.pdf_dir} (searched recursively for "
                              + ", ".join(f"*{suffix}" for suffix in DOCUMENT_KINDS)
                              + ", any case; hidden folders are skipped)")
        teacher = None
        if not args.render_only:  # build the teacher first: a missing key fails before any work
            label_cfg = label_config_from_args(args)
            teacher = make_teacher(args.teacher, teacher_settings_from_args(args))
            teacher.check_tasks(list(label_cfg.tasks))
            check_one_request_per_page(label_cfg, teacher)
        with RunStore(cfg.run_dir) as store:
            try:
                render_summary = render_folder(cfg, store, progress=not args.no_progress)
                if teacher is not None:
                    try:
                        with PageSources(cfg, store) as sources:
                            if batch_cfg is not None:
                                label_summary = run_batch(sources, label_cfg, batch_cfg, store, teacher)
                            else:
                                label_summary = label_pages(sources, label_cfg, store, teacher,
                                                            progress=not args.no_progress)
                    finally:
                        teacher.close()
                result = verdict(store, render_summary, label_summary,
                                 tuple(t.name for t in label_cfg.tasks) if teacher is not None else ())
                if args.wandb:
                    _log_to_wandb(args, store, render_summary, label_summary, teacher)
            except KeyboardInterrupt:
                raise KeyboardInterrupt(interrupted_line(store, cfg.run_dir)) from None
    except (ConfigError, StoreError, TaskError, TeacherConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except TeacherFatalError as exc:
        print(f"stopped: {exc}\nEverything labelled before this is kept in {args.out}; fix the cause and rerun.",
              file=sys.stderr)
        return EXIT_STOPPED
    except (sqlite3.OperationalError, OSError) as exc:   # disk full, read-only or vanished run folder
        print(f"stopped: {type(exc).__name__}: {exc}\nEverything stored in {args.out} before this is kept; "
              "fix the cause (disk space, permissions) and rerun.", file=sys.stderr)
        return EXIT_STOPPED
    _print_summary(args, render_summary, label_summary, result)
    return result.code


def _log_to_wandb(args, store, render_summary, label_summary, teacher) -> None:
    try:
        log_run(args.wandb, store, {"render": render_summary.to_dict(),
                                    **({"label": label_summary.to_dict()} if label_summary else {})},
                _tracked_config(args, teacher))
    except Exception as exc:  # the run itself is done and stored: tracking must not undo it
        print(f"warning: W&B logging failed ({type(exc).__name__}: {exc}); the run is complete", file=sys.stderr)


def _print_summary(args, render_summary, label_summary, result: Verdict) -> None:
    if args.json:
        out = {"render": render_summary.to_dict()}
        if label_summary is not None:
            out["label"] = label_summary.to_dict()
        print(json.dumps({**out, **result.to_dict()}, ensure_ascii=False))
    else:
        print(format_render_summary(render_summary))
        if label_summary is not None:
            print(format_label_summary(label_summary))
        if isinstance(label_summary, BatchSummary):
            print(format_batch(label_summary))
    if result.reason:
        word = {EXIT_CONFIG: "error", EXIT_WORK_LEFT: "incomplete"}.get(result.code, "note")
        print(f"{word}: {result.reason}", file=sys.stderr)


if __name__ == "__main__":
    exit_now(main())
