"""Systems under evaluation and scoring them on the same items.

A system is ``NAME=KIND:ARG`` on the command line:

- ``base=predictions:FILE``: LLaMA-Factory's generated_predictions.jsonl (aligned by line order)
- ``finetuned=endpoint:URL#MODEL``: a live OpenAI-compatible server (llamafactory-cli api, vLLM)
- ``teacher=run:RUN_DIR`` (or ``run:RUN_DIR#TEACHER``): labels stored in a docdistill run folder
- ``ocr=tesseract`` (or ``tesseract:LANGS``, e.g. ``tesseract:ara+eng``): an offline teacher (here
  traditional OCR) run on the reference pages' images (``pipeline.evaluation.ocr_baseline``)

Every system is scored on the items all of them answered (the intersection of ids); what each one
lacked is counted, never silently dropped.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.evaluation.inputs import EvalItem, page_key
from pipeline.store import RunStore, StoreError
from pipeline.tasks import Task

SYSTEM_KINDS = ("predictions", "endpoint", "run", "teacher")
SYNTAX_HINT = ("use NAME=predictions:FILE, NAME=endpoint:URL#MODEL, NAME=run:RUN_DIR[#TEACHER] or an offline "
               "teacher NAME=TEACHER[:LANGS] (e.g. ocr=tesseract), e.g. --system "
               "finetuned=endpoint:http://localhost:8000/v1#student")


@dataclass(frozen=True)
class SystemSpec:
    name: str
    kind: str
    target: str              # file, URL or run folder
    detail: str = ""         # endpoint: model name; run: teacher name (optional)


def parse_system(text: str) -> SystemSpec:
    """Parse one ``--system`` value.

    >>> parse_system("finetuned=endpoint:http://localhost:8000/v1#student")
    SystemSpec(name='finetuned', kind='endpoint', target='http://localhost:8000/v1', detail='student')
    >>> parse_system("teacher=run:runs/demo").target
    'runs/demo'
    >>> parse_system("ocr=tesseract"), parse_system("ocr=tesseract:ara").detail
    (SystemSpec(name='ocr', kind='teacher', target='tesseract', detail=''), 'ara')
    """
    from pipeline.teachers import TEACHER_NAMES

    name, eq, rest = text.partition("=")
    kind, colon, target = rest.partition(":")
    if eq and name.strip() and kind in TEACHER_NAMES:   # a teacher by name; the languages are optional
        return SystemSpec(name.strip(), "teacher", kind, target)
    if not eq or not colon or not name.strip() or not target:
        raise ConfigError(f"--system {text!r} is not understood; {SYNTAX_HINT}")
    if kind not in SYSTEM_KINDS:
        raise ConfigError(f"--system {text!r}: unknown kind {kind!r}; {SYNTAX_HINT}")
    target, _, detail = target.rpartition("#") if "#" in target else (target, "", "")
    if kind == "endpoint" and not detail:
        raise ConfigError(f"--system {text!r}: an endpoint needs the model name after '#'; {SYNTAX_HINT}")
    return SystemSpec(name.strip(), kind, target, detail)


def run_predictions(run_dir: Path, teacher: str = "") -> dict[str, str]:
    """item id -> the newest answer text stored in a run folder (per page and task, any outcome).

    The raw text is what the teacher sent, so its output contract is judged as the student's is.
    An answer is stored once per image: every page that renders to that image gets it.
    """
    if not (run_dir / "run.sqlite").is_file():
        raise ConfigError(f"{run_dir} is not a docdistill run folder (no run.sqlite); give the --out of "
                          "python -m pipeline.distill")
    try:
        with RunStore(run_dir, read_only=True) as store:
            sha_of, same_image = {}, defaultdict(list)
            for r in store.rendered_page_rows():
                sha_of[(r["doc_id"], r["page_index"])] = r["image_sha256"]
                same_image[r["image_sha256"]].append(r["image_path"])
            valid: dict[str, str] = {}
            failed: dict[str, str] = {}
            for label in store.iter_labels():   # oldest first within a page and task: the newest wins
                sha = sha_of.get((label.doc_id, label.page_index))
                if sha is None or (teacher and label.teacher != teacher):
                    continue
                text = label.raw_text
                if not text and label.label is not None:
                    text = json.dumps(label.label, ensure_ascii=False)
                for image in same_image[sha]:
                    (valid if label.outcome == "ok" else failed)[f"{page_key(image)}:{label.task}"] = text
    except StoreError as exc:
        raise ConfigError(f"{run_dir}: {exc}") from exc
    return {**failed, **valid}      # a page's valid answer, else its newest failed one


@dataclass
class Comparison:
    items: list[EvalItem]                         # the items every system answered, in reference order
    scores: dict[str, list]                       # system -> ItemScore per item (same order)
    summaries: dict[str, dict]                    # system -> aggregate(...)
    by_task: dict[str, dict[str, dict]]           # system -> task -> aggregate(...)
    lacking: dict[str, int]                       # system -> reference items it had no prediction for
    predictions: dict[str, dict[str, str]] = field(default_factory=dict)


def compare(items: list[EvalItem], predictions: dict[str, dict[str, str]], tasks: dict[str, Task],
            scoring_config=None, weighting: str = "leaf", normalization: str = "none") -> Comparison:
    """Score every system on the items all of them answered (ANLS* ``weighting`` and text
    ``normalization``: see ``score_item``; raw scores are kept beside the normalised ones)."""
    from pipeline.evaluation import aggregate, score_item   # the metrics library (its own module)

    lacking = {name: sum(1 for item in items if item.id not in preds) for name, preds in predictions.items()}
    common = [item for item in items if all(item.id in preds for preds in predictions.values())]
    scores: dict[str, list] = {}
    for name, preds in predictions.items():
        scores[name] = [score_item(item.id, preds[item.id], item.reference,
                                   # the Pydantic model the labels were validated with, not its JSON Schema
                                   schema=tasks[item.task].model if item.task in tasks else None,
                                   prompt=item.prompt, config=scoring_config, weighting=weighting,
                                   normalization=normalization)
                        for item in common]
    summaries = {name: aggregate(system_scores) for name, system_scores in scores.items()}
    by_task: dict[str, dict[str, dict]] = {}
    task_names = Counter(item.task or "unknown" for item in common)
    if len(task_names) > 1:
        for name, system_scores in scores.items():
            by_task[name] = {task: aggregate([s for s, item in zip(system_scores, common)
                                              if (item.task or "unknown") == task]) for task in task_names}
    return Comparison(common, scores, summaries, by_task, lacking, predictions)
