"""``python -m pipeline.distill PDF_DIR --out RUN_DIR``: render every page, then label it.

Thin entry point: parse flags, build one typed config, call the stage functions, print a
summary (or one JSON object with ``--json``). Only this module turns exceptions into messages
and exit codes: 0 done (skipped files and failed pages are outcomes, not errors), 2 bad
configuration (nothing was started), 3 the teacher stopped the run (everything before is kept).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.config import DEFAULT_LONGEST_SIDE, DEFAULT_MAX_PIXELS, ENHANCE_METHODS, IMAGE_FORMATS, \
    ConfigError, RenderConfig, RenderRunConfig
from pipeline.label import LabelConfig, LabelSummary, label_pages
from pipeline.pdfio import load_passwords_file
from pipeline.render import RenderSummary, render_folder
from pipeline.store import RunStore, StoreError
from pipeline.tasks import DEFAULT_TASKS, TaskError, resolve_tasks
from pipeline.teachers import DEFAULT_TEACHER, TEACHER_NAMES, TeacherConfigError, TeacherFatalError, \
    TeacherSettings, make_teacher


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline.distill", description=__doc__.splitlines()[0])
    parser.add_argument("pdf_dir", type=Path, help="folder searched recursively for *.pdf (any case)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (created; resumable)")
    parser.add_argument("--render-only", action="store_true", help="render pages, do not label them")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    group = parser.add_argument_group("opening")
    group.add_argument("--password", action="append", default=[],
                       help="password to try on encrypted PDFs (repeatable); prefer --passwords FILE")
    group.add_argument("--passwords", type=Path, help="JSON/YAML map of file name -> password")
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
    group.add_argument("--format", dest="image_format", choices=IMAGE_FORMATS, default="jpeg")
    group.add_argument("--jpeg-quality", type=int, default=90)
    group.add_argument("--workers", type=int, default=1, help="render processes (default 1)")
    group = parser.add_argument_group("labelling")
    group.add_argument("--teacher", choices=TEACHER_NAMES, default=DEFAULT_TEACHER,
                       help=f"who labels the pages (default {DEFAULT_TEACHER}: offline, from the PDF's text layer)")
    group.add_argument("--task", dest="tasks", action="append",
                       help=f"task name or path to a task.yaml (repeatable; default {' + '.join(DEFAULT_TASKS)})")
    group.add_argument("--model", help="teacher model (default: the teacher's own)")
    group.add_argument("--base-url", help="API endpoint (a gateway, a stub, or your own vLLM / llamafactory-cli api)")
    group.add_argument("--temperature", type=float, default=0.0)
    group.add_argument("--max-output-tokens", type=int, default=8192)
    group.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    group.add_argument("--image-detail", choices=("low", "high", "auto"), default="high", help="OpenAI image detail")
    group.add_argument("--json-mode", choices=("schema", "object", "none"), default="schema",
                       help="openai-compatible: JSON-schema output, plain JSON mode, or none (server support varies)")
    group.add_argument("--anchor", action="store_true",
                       help="add a bounded excerpt of the page's text layer to the teacher prompt")
    group.add_argument("--no-repair", action="store_true", help="no re-ask quoting validation errors")
    group.add_argument("--retry-failed", action="store_true",
                       help="send failed requests again (transient failures are always retried)")
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
                           passwords=tuple(args.password), passwords_by_name=by_name)


def teacher_settings_from_args(args: argparse.Namespace) -> TeacherSettings:
    return TeacherSettings(model=args.model, base_url=args.base_url, temperature=args.temperature,
                           max_output_tokens=args.max_output_tokens, timeout_s=args.timeout,
                           image_detail=args.image_detail, json_mode=args.json_mode)


def format_render_summary(summary: RenderSummary) -> str:
    lines = [f"render: {summary.files} file(s), {summary.documents} document(s) in {summary.seconds:.1f}s"]
    for outcome, count in sorted(summary.outcomes.items()):
        lines.append(f"  {outcome:<28} {count}")
    lines.append(f"  pages: {summary.pages_rendered} rendered, {summary.pages_up_to_date} already done, "
                 f"{summary.pages_failed} failed (of {summary.pages_total})")
    for item in summary.skipped_files:
        lines.append(f"  skipped {item['path']}: {item['detail']}")
    for item in summary.failed_pages[:20]:
        lines.append(f"  failed {item['path']} page {item['page']}: {item['reason']}")
    if len(summary.failed_pages) > 20:
        lines.append(f"  ... and {len(summary.failed_pages) - 20} more failed pages (see the run store)")
    lines.append(f"  store: {summary.store}")
    return "\n".join(lines)


def format_label_summary(summary: LabelSummary) -> str:
    data = summary.to_dict()
    lines = [f"label: teacher {summary.teacher} ({summary.model}), {summary.requests} request(s), "
             f"{summary.up_to_date} already done, {summary.seconds:.1f}s, "
             f"tokens {summary.tokens_in} in / {summary.tokens_out} out"]
    for task, outcomes in data["labels"].items():
        lines.append(f"  {task:<12} " + ", ".join(f"{o} {n}" for o, n in outcomes.items()))
    if summary.warnings:
        lines.append("  warnings: " + ", ".join(f"{w} {n}" for w, n in sorted(summary.warnings.items())))
    for item in summary.failures[:20]:
        lines.append(f"  {item['outcome']} {item['path']} page {item['page']} ({item['task']}): {item['detail']}")
    if len(summary.failures) > 20:
        lines.append(f"  ... and {len(summary.failures) - 20} more (see the run store)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    render_summary = label_summary = None
    try:
        cfg = render_config_from_args(args)
        teacher = None
        if not args.render_only:  # build the teacher first: a missing key fails before any work
            label_cfg = LabelConfig(tasks=tuple(resolve_tasks(args.tasks or list(DEFAULT_TASKS))),
                                    anchor=args.anchor, repair=not args.no_repair, retry_failed=args.retry_failed)
            teacher = make_teacher(args.teacher, teacher_settings_from_args(args))
            teacher.check_tasks(list(label_cfg.tasks))
        with RunStore(cfg.run_dir) as store:
            render_summary = render_folder(cfg, store, progress=not args.no_progress)
            if teacher is not None:
                try:
                    label_summary = label_pages(cfg, label_cfg, store, teacher, progress=not args.no_progress)
                finally:
                    teacher.close()
    except (ConfigError, StoreError, TaskError, TeacherConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except TeacherFatalError as exc:
        print(f"stopped: {exc}\nEverything labelled before this is kept in {args.out}; fix the cause and rerun.",
              file=sys.stderr)
        return 3
    if args.json:
        out = {"render": render_summary.to_dict()}
        if label_summary is not None:
            out["label"] = label_summary.to_dict()
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(format_render_summary(render_summary))
        if label_summary is not None:
            print(format_label_summary(label_summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
