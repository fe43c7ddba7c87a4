"""What evaluation reads: reference items and each system's predictions for them.

References come from a dataset split written by build_dataset (``<name>_val.json``, ShareGPT: the
reference is the gpt turn's JSON) or from any JSONL of ``{id, image?, reference, task?}`` (human
labels). Predictions come from LLaMA-Factory's ``generated_predictions.jsonl`` or from a run folder's
labels (another teacher on the same pages); the live endpoint is ``pipeline.evaluation.endpoint``.

Items are matched across sources by id: ``<page key>:<task>``, where the page key names the page
image the same way in a run folder (``images/<doc>/p0001.jpg``) and in a dataset folder
(``images/0a/<doc>_p0001.jpg``): ``<doc>_p0001``.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pipeline.errors import ConfigError
from pipeline.tasks import Task, TaskError, builtin_task_names, resolve_tasks

_DOC_FOLDER = re.compile(r"^[0-9a-f]{16}$")


@dataclass
class EvalItem:
    id: str
    reference: dict
    task: str | None = None
    image: Path | None = None      # absolute path to the page image, when known
    prompt: str | None = None      # the student prompt (without the <image> tag)
    golden: bool = False           # from a golden set (build_dataset --golden): never mined
    system: str | None = None      # the system prompt the record was trained with (build_dataset --system-prompt)


@dataclass
class References:
    items: list[EvalItem]
    source: str
    skipped: Counter = field(default_factory=Counter)     # reason -> records left out


def page_key(image: str) -> str:
    """The page's name shared by run and dataset folders.

    >>> page_key("images/0a1b2c3d4e5f6a7b/p0001.jpg"), page_key("images/0a/0a1b2c3d4e5f6a7b_p0001.jpg")
    ('0a1b2c3d4e5f6a7b_p0001', '0a1b2c3d4e5f6a7b_p0001')
    """
    path = PurePosixPath(image.replace("\\", "/"))
    if _DOC_FOLDER.match(path.parent.name):
        return f"{path.parent.name}_{path.stem}"
    return path.stem


def load_tasks(extra: tuple[str, ...] = ()) -> dict[str, Task]:
    """Built-in tasks plus any given by name or task.yaml path, by name."""
    names = list(dict.fromkeys([*builtin_task_names(), *extra]))
    try:
        return {t.name: t for t in resolve_tasks(names)}
    except TaskError as exc:
        raise ConfigError(str(exc)) from exc


def task_for_prompt(prompt: str, tasks: dict[str, Task]) -> str | None:
    """The task whose student prompt this is (the <image> tag and whitespace ignored), or None."""
    text = prompt.replace("<image>", "").strip()
    for task in tasks.values():
        if task.student_prompt.strip() == text:
            return task.name
    return None


def _read_json(path: Path, what: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{what} {path} is not JSON ({exc}); give a build_dataset split "
                          "(<name>_val.json) or a .jsonl of {{id, image, reference}}") from exc


def _read_jsonl(path: Path, what: str) -> list[tuple[int, object]]:
    """(line number, decoded value) per non-empty line; undecodable lines come back as None."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc}") from exc
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append((number, json.loads(line)))
            except json.JSONDecodeError:
                rows.append((number, None))
    return rows


def _unique(item_id: str, seen: Counter) -> str:
    seen[item_id] += 1
    return item_id if seen[item_id] == 1 else f"{item_id}#{seen[item_id]}"


def items_from_sharegpt(records: list, base: Path, tasks: dict[str, Task], source: str) -> References:
    """Items from ShareGPT records (build_dataset's format); images relative to ``base``."""
    refs, seen = References([], source), Counter()
    for index, record in enumerate(records):
        turns = record.get("conversations") if isinstance(record, dict) else None
        human = next((t.get("value", "") for t in turns or [] if t.get("from") == "human"), None)
        answer = next((t.get("value", "") for t in turns or [] if t.get("from") == "gpt"), None)
        if human is None or answer is None:
            refs.skipped["record_without_human_and_gpt_turns"] += 1
            continue
        try:
            reference = json.loads(answer)
        except json.JSONDecodeError:
            refs.skipped["reference_not_json"] += 1
            continue
        images = record.get("images") or []
        task = task_for_prompt(human, tasks)
        key = page_key(images[0]) if images else f"record{index:05d}"
        refs.items.append(EvalItem(_unique(f"{key}:{task or 'unknown'}", seen), reference, task,
                                   (base / images[0]).resolve() if images else None,
                                   human.replace("<image>", "").strip(), bool(record.get("golden")),
                                   record.get("system") or None))
    return refs


def items_from_jsonl(path: Path, tasks: dict[str, Task]) -> References:
    """Items from a JSONL of {id?, image?, reference, task?} (id defaults to the image's page key)."""
    refs, seen = References([], str(path)), Counter()
    for number, row in _read_jsonl(path, "references file"):
        if not isinstance(row, dict) or not isinstance(row.get("reference"), dict):
            refs.skipped["line_without_reference_object"] += 1
            continue
        task = row.get("task")
        if task is not None and task not in tasks:
            raise ConfigError(f"{path} line {number}: unknown task {task!r}; use one of {', '.join(tasks)} "
                              "or pass --task path/to/task.yaml")
        image = row.get("image")
        item_id = row.get("id") or (f"{page_key(image)}:{task or 'unknown'}" if image else f"line{number:05d}")
        refs.items.append(EvalItem(_unique(str(item_id), seen), row["reference"], task,
                                   (path.parent / image).resolve() if image else None,
                                   tasks[task].student_prompt if task else None))
    return refs


def load_references(path: Path, tasks: dict[str, Task]) -> References:
    """A build_dataset split (.json array) or a references JSONL, by content."""
    if path.suffix == ".jsonl":
        return items_from_jsonl(path, tasks)
    records = _read_json(path, "references file")
    if not isinstance(records, list):
        raise ConfigError(f"references file {path} is not a JSON array of ShareGPT records; give "
                          "DATASET_DIR/<name>_val.json or a .jsonl of {id, image, reference}")
    return items_from_sharegpt(records, path.parent, tasks, str(path))


def load_generated_predictions(path: Path) -> list[dict]:
    """LLaMA-Factory's generated_predictions.jsonl: one {"prompt", "predict", "label"} per line."""
    rows = []
    for number, row in _read_jsonl(path, "predictions file"):
        if not isinstance(row, dict) or "predict" not in row:
            raise ConfigError(f"{path} line {number} is not a LLaMA-Factory prediction "
                              '({"prompt", "predict", "label"}); give generated_predictions.jsonl')
        rows.append(row)
    return rows


def references_from_predictions(rows: list[dict], tasks: dict[str, Task], source: str) -> References:
    """Items when the predictions file is the only input: each line's label is its reference."""
    refs, seen = References([], source), Counter()
    for number, row in enumerate(rows, 1):
        try:
            reference = json.loads(row.get("label") or "")
        except json.JSONDecodeError:
            refs.skipped["label_not_json"] += 1
            continue
        task = task_for_prompt(_user_text(row.get("prompt") or ""), tasks)
        refs.items.append(EvalItem(_unique(f"line{number:05d}:{task or 'unknown'}", seen),
                                   reference if isinstance(reference, dict) else {"value": reference}, task))
    return refs


def _user_text(prompt: str) -> str:
    """The user turn inside a chat-templated prompt (Gemma: <start_of_turn>user ... <end_of_turn>).

    >>> _user_text("<bos><start_of_turn>user\\n<start_of_image>Read it.<end_of_turn>\\n<start_of_turn>model\\n")
    'Read it.'
    """
    match = re.search(r"user\n(.*?)(?:<end_of_turn>|<\|im_end\|>|$)", prompt, re.S)
    text = match.group(1) if match else prompt
    return re.sub(r"<[^<>\s]*image[^<>\s]*>|<\|[^|]*\|>", "", text).strip()


def predictions_by_line(rows: list[dict], items: list[EvalItem], path: Path) -> dict[str, str]:
    """Align predictions with reference items by line order (how LLaMA-Factory writes them)."""
    if len(rows) != len(items):
        raise ConfigError(f"{path} has {len(rows)} predictions but the references have {len(items)} items; "
                          "give the split the predict YAML ran on (eval_dataset) as --references")
    # The label LLaMA-Factory writes is the decoded reference: most must match, or the files are not aligned.
    # (Not all: decoding may cut a label at cutoff_len or change its spacing.)
    checked = mismatched = 0
    first = None
    for row, item in zip(rows, items):
        try:
            label = json.loads(row.get("label") or "null")
        except json.JSONDecodeError:
            continue
        if isinstance(label, dict):
            checked += 1
            if label != item.reference:
                mismatched += 1
                first = first or item.id
    if checked and mismatched * 2 > checked:
        raise ConfigError(f"{path}: {mismatched} of {checked} labels differ from their references (first: {first}); "
                          "the predictions were made on another split or order: give the matching --references")
    return {item.id: str(row.get("predict") or "") for row, item in zip(rows, items)}
