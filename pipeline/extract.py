"""``python -m pipeline.extract PDF_DIR --out OUT_DIR --endpoint URL --model NAME [--dataset DATASET_DIR]``:
the fine-tuned student reads new documents on this machine.

Renders every PDF exactly as the student's training pages were rendered (from the dataset's
manifest), asks the student server (``llamafactory-cli api``, vLLM) each page under each task with
the student prompt, checks every answer, and writes per-document outputs named after the source
files. Resumable: a rerun sends only what is missing. The endpoint must be on this machine or its
private network. Exit codes: 0 done (failed pages are outcomes, listed), 2 bad configuration
(nothing was sent), 3 the server or the disk stopped the run (everything before is kept).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sqlite3
import sys
from pathlib import Path

from pipeline.distill_report import format_render_summary
from pipeline.errors import ConfigError, StoreError, TaskError, TeacherConfigError, TeacherFatalError
from pipeline.label.stage import LabelConfig
from pipeline.render.config import ENHANCE_METHODS, ENHANCE_PAGES, IMAGE_FORMATS, RenderRunConfig
from pipeline.render.pdfio import load_passwords_file
from pipeline.student.locality import require_local_endpoint
from pipeline.student.manifest import load_student_section
from pipeline.student.run import ExtractConfig, ExtractSummary, extract_folder
from pipeline.student.setup import resolve_setup
from pipeline.student.teacher import StudentInputs, StudentTeacher
from pipeline.teachers import TeacherSettings

_RENDER_FLAGS = ("longest_side", "max_pixels", "enhance", "enhance_pages", "grayscale", "image_format",
                 "jpeg_quality")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline.extract", description=__doc__.splitlines()[0])
    parser.add_argument("pdf_dir", type=Path, help="folder searched recursively for *.pdf (any case)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (a run folder: resumable)")
    parser.add_argument("--endpoint", required=True, help="the student server, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--model", required=True, help="the name it serves (API_MODEL_NAME / --served-model-name)")
    parser.add_argument("--dataset", type=Path, help="the dataset folder the student was trained on, or the copy "
                                                     "of its manifest.json shipped with the model")
    parser.add_argument("--task", dest="tasks", action="append",
                        help="only this task (repeatable; default: the tasks the student was trained on)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    group = parser.add_argument_group("asking")
    group.add_argument("--guided", action="store_true", help="ask for the task's JSON schema (vLLM structured "
                                                             "outputs; llamafactory-cli api ignores it)")
    group.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    group.add_argument("--temperature", type=float, default=0.0)
    group.add_argument("--max-tokens", type=int, default=4096, help="answer length limit (default 4096)")
    group.add_argument("--timeout", type=float, default=300.0, help="seconds per request (default 300)")
    group.add_argument("--max-attempts", type=int, default=3, help="tries per request on 5xx/timeouts; also "
                                                                   "fresh asks of a wrong-shaped answer (default 3)")
    group.add_argument("--retry-failed", action="store_true", help="ask again what failed (transient failures "
                                                                   "are always asked again)")
    group.add_argument("--allow-remote-endpoint", action="store_true",
                       help="send pages to an endpoint off this machine and its private network")
    group = parser.add_argument_group("opening")
    group.add_argument("--password", action="append", default=[], help="password to try on encrypted PDFs")
    group.add_argument("--passwords", type=Path, help="JSON/YAML map of file name -> password")
    group.add_argument("--workers", type=int, default=1, help="render processes (default 1)")
    group = parser.add_argument_group("overrides (the student never saw such inputs: each one is warned about)")
    group.add_argument("--longest-side", type=int)
    group.add_argument("--max-pixels", type=int)
    group.add_argument("--enhance", choices=ENHANCE_METHODS)
    group.add_argument("--enhance-pages", choices=ENHANCE_PAGES)
    group.add_argument("--grayscale", action=argparse.BooleanOptionalAction, default=None)
    group.add_argument("--format", dest="image_format", choices=IMAGE_FORMATS)
    group.add_argument("--jpeg-quality", type=int)
    group.add_argument("--max-image-side", type=int, help="0: full-size images")
    group.add_argument("--system-prompt", help='"": none')
    return parser


def retry_command(argv: list[str]) -> str:
    """The command again with --retry-failed; passwords are left out (add your own).

    >>> print(retry_command(["in", "--out", "o", "--password", "s3cret", "--json"]))
    python -m pipeline.extract in --out o --retry-failed  # plus your --password/--passwords flags
    """
    kept, skip, dropped = [], False, False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--password", "--passwords"):
            skip = dropped = True
            continue
        if arg.startswith(("--password=", "--passwords=")):
            dropped = True
            continue
        if arg not in ("--json", "--retry-failed"):
            kept.append(arg)
    command = shlex.join(["python", "-m", "pipeline.extract", *kept, "--retry-failed"])
    return command + ("  # plus your --password/--passwords flags" if dropped else "")


def config_from_args(args: argparse.Namespace) -> ExtractConfig:
    section, manifest = load_student_section(args.dataset) if args.dataset else (None, None)
    overrides = {name: getattr(args, name) for name in _RENDER_FLAGS if getattr(args, name) is not None}
    setup = resolve_setup(section, manifest, overrides, args.tasks, args.max_image_side, args.system_prompt)
    endpoint = require_local_endpoint(args.endpoint, args.allow_remote_endpoint)
    render = RenderRunConfig(pdf_dir=args.pdf_dir, run_dir=args.out, render=setup.render, workers=args.workers,
                             passwords=tuple(args.password),
                             passwords_by_name=load_passwords_file(args.passwords) if args.passwords else {})
    # The endpoint check above is this command's privacy gate (stricter than the label stage's own:
    # names are resolved), and the documents it reads are sensitive by definition.
    label = LabelConfig(tasks=setup.tasks, repair=False, retry_failed=args.retry_failed,
                        concurrency=args.concurrency, max_attempts=args.max_attempts, allow_sensitive=True)
    return ExtractConfig(render=render, label=label, setup=setup, endpoint=endpoint)


def format_summary(summary: ExtractSummary, retry: str) -> str:
    setup, endpoint, outputs = summary.setup, summary.endpoint, summary.outputs
    r = setup.render
    lines = [format_render_summary(summary.render)] if summary.render else []
    if summary.label:
        s = summary.label
        lines.append(f"extract: model {s.model}, {s.requests} request(s), {s.up_to_date} already answered, "
                     f"{s.seconds:.1f}s, tokens {s.tokens_in} in / {s.tokens_out} out")
    lines.append(f"  student: {setup.manifest or 'no manifest'}; longest side {r.longest_side}, enhance {r.enhance} "
                 f"({r.enhance_pages}), {r.image_format}{', grayscale' if r.grayscale else ''}; images "
                 f"{setup.max_image_side or 'full-size'}; system prompt {'yes' if setup.system_prompt else 'none'}; "
                 f"tasks {', '.join(t.name for t in setup.tasks)}")
    where = f"{endpoint.url} ({', '.join(endpoint.addresses) or endpoint.host})"
    lines.append(f"  endpoint: {where}" + ("" if endpoint.local else
                                           f"\n  REMOTE ENDPOINT (--allow-remote-endpoint): pages were sent to "
                                           f"{endpoint.host}: {endpoint.reason}"))
    lines += [f"  warning: {w}" for w in setup.warnings]
    if outputs:
        lines.append(f"outputs: {outputs.out_dir}/docs ({outputs.documents} document(s): "
                     f"{outputs.files.get('json', 0)} .json, {outputs.files.get('md', 0)} .md), "
                     f"{outputs.out_dir}/results.jsonl")
        for task, counts in sorted(outputs.outcomes.items()):
            lines.append(f"  {task:<12} " + ", ".join(f"{o} {n}" for o, n in sorted(counts.items())))
        for item in outputs.failures[:20]:
            where = f"page {item['page']} ({item['task']})" if item["page"] else "(whole file)"
            reason = (item["reason"] or "").splitlines() or [""]
            more = f" (+{len(reason) - 1} more lines)" if len(reason) > 1 else ""
            lines.append(f"  {item['outcome']} {item['source']} {where}: {reason[0]}{more}")
        if outputs.failures_total > 20:
            lines.append(f"  ... and {outputs.failures_total - 20} more (every one in results.jsonl)")
        for outcome, advice in summary.advice().items():
            lines.append(f"  {outcome}: {advice}")
        if outputs.failures_total:
            lines.append(f"  retry: {retry}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        cfg = config_from_args(args)
        settings = TeacherSettings(model=args.model, base_url=args.endpoint, temperature=args.temperature,
                                   max_output_tokens=args.max_tokens, timeout_s=args.timeout, json_mode="none")
        teacher = StudentTeacher(settings, StudentInputs(cfg.setup.system_prompt, cfg.setup.max_image_side,
                                                         args.guided))
        try:
            summary = extract_folder(cfg, teacher, progress=not args.no_progress)
        finally:
            teacher.close()
    except (ConfigError, StoreError, TaskError, TeacherConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except TeacherFatalError as exc:
        print(f"stopped: {exc}\nEvery answer before this is kept in {args.out} (outputs written); fix the cause "
              "and rerun the same command.", file=sys.stderr)
        return 3
    except (sqlite3.OperationalError, OSError) as exc:
        print(f"stopped: {type(exc).__name__}: {exc}\nEverything stored in {args.out} before this is kept; fix "
              "the cause (disk space, permissions) and rerun.", file=sys.stderr)
        return 3
    retry = retry_command(argv)
    if args.json:
        print(json.dumps({**summary.to_dict(), "retry": retry if summary.outputs.failures_total else None},
                         ensure_ascii=False))
    else:
        print(format_summary(summary, retry))
    return 0


if __name__ == "__main__":
    sys.exit(main())
