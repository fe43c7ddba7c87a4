"""The review queues, in the order that helps most, built from the run store at each start.

Each (image, task) is in one queue at most, the first that fits:

1. ``invalid``: the answer failed validation (or was salvaged from odd JSON, or repaired by a re-ask)
2. ``foreign_script``: the label holds a script the page's languages do not explain
3. ``disagreement``: an offline teacher (textlayer, tesseract) and another teacher differ on the page
4. ``mined``: evaluate's mined failures (``--eval-dir``), hardest first
5. ``sample``: a seeded random sample of the other valid labels, for spot checks
6. ``manual``: pages held back by the privacy gate (``block``, or ``unverified``: a scan OCR could not
   read), whose placeholders did not come back (``redaction_mismatch``), never sent, or without a usable
   answer (no text layer, refused, ...): a person labels them, starting from a prefilled form. The why
   names the gate's decision from the store's privacy audit (kinds only, never values).
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz

from pipeline.errors import ConfigError
from pipeline.evaluation.inputs import page_key
from pipeline.label.answers import TRANSIENT as TRANSIENT_OUTCOMES
from pipeline.records import LabelRecord
from pipeline.scripts import strings_of
from pipeline.store import RunStore
from pipeline.store.review import QueueRow

QUEUES = ("invalid", "foreign_script", "disagreement", "mined", "sample", "manual")
QUEUE_TITLES = {"invalid": "failed validation / salvaged", "foreign_script": "foreign script",
                "disagreement": "offline teacher disagrees", "mined": "evaluate's mined failures",
                "sample": "random spot check", "manual": "manual labelling (never sent)"}
FAILED_VALIDATION = ("invalid", "malformed_json")
HELD_BACK = "sensitive_blocked"
REDACTION_MISMATCH = "redaction_mismatch"
TRANSIENT = tuple(outcome.value for outcome in TRANSIENT_OUTCOMES)
DISAGREE_BELOW = 80.0          # rapidfuzz ratio (0-100) of the two labels' texts (``label_text``)


@dataclass
class ImageLabels:
    """Every label stored for one image under one task (oldest first) and the pages showing it."""

    labels: list[LabelRecord] = field(default_factory=list)
    pages: list[tuple[str, int, str]] = field(default_factory=list)   # (doc_id, page_index, image_path)

    def chosen(self) -> LabelRecord | None:
        """What build_dataset would use: the newest valid label, else the newest answer of any outcome."""
        ok = [label for label in self.labels if label.outcome == "ok"]
        return (ok or self.labels or [None])[-1]


def privacy_why(audit: dict | None) -> str:
    """The privacy gate's decision for a page in words (kinds and classes, never values).

    >>> privacy_why({"action": "block", "findings": [{"kind": "unverified", "class": "unverified", "action": "block"},
    ...              {"kind": "email", "class": "personal", "action": "redact"}]})
    'block: unverified'
    """
    if not audit:
        return ""
    held = sorted({f["kind"] if f["kind"] == f["class"] else f"{f['kind']} ({f['class']})"
                   for f in audit["findings"] if f["action"] == audit["action"]})
    return f"{audit['action']}: {', '.join(held) or audit['detail'][:80]}"


def queue_of(entry: ImageLabels, is_offline: Callable[[str], bool], mined: dict[str, int],
             task: str, audit: dict | None = None) -> tuple[str, str, float] | None:
    """(queue, why, rank within the queue: lowest first) for one image's labels under a task, or None (a
    candidate for the sample). Disagreements rank least alike first, mined failures hardest first;
    ``audit`` is the privacy gate's row for the page (``RunStore.iter_privacy_audit``), if any."""
    label = entry.chosen()
    held = privacy_why(audit)
    if label is None:
        if audit and audit["action"] == "block":
            return "manual", f"held back by the privacy gate ({held}), never sent", 0
        return "manual", "never sent to a teacher", 0
    if label.outcome in FAILED_VALIDATION:
        return "invalid", f"{label.outcome}: {label.detail[:120]}", 0
    if label.outcome == HELD_BACK:
        return "manual", f"held back by the privacy gate ({held or label.detail})", 0
    if label.outcome == REDACTION_MISMATCH:    # the label has placeholders where the page has values
        return "manual", (f"redacted, placeholders did not come back ({label.detail[:80]}); label it here, or build "
                          "with --train-redacted-mismatches"), 0
    if label.outcome in TRANSIENT:
        return None                      # a rerun of distill sends these again: nothing to review yet
    if label.outcome != "ok":
        return "manual", f"no usable answer ({label.outcome})", 0
    odd = [w for w in label.warnings if w.startswith("salvaged") or w == "repaired"]
    if odd:
        return "invalid", ", ".join(odd), 0
    foreign = [w.split(":", 1)[1] for w in label.warnings if w.startswith("foreign_script:")]
    if foreign:
        return "foreign_script", ", ".join(foreign), 0
    disagreement = _disagreement(entry, is_offline)
    if disagreement is not None:
        return "disagreement", *disagreement
    ranks = [mined[f"{page_key(image)}:{task}"] for _, _, image in entry.pages if f"{page_key(image)}:{task}" in mined]
    if ranks:
        return "mined", "failed in evaluation", min(ranks)
    return None


def label_text(label: dict) -> str:
    """What two teachers' labels are compared on: their text values, lower case, without markup.

    The JSON keys (the same in every label of a task) are left out: two labels saying different things
    must not look alike for sharing their field names.

    >>> label_text({"markdown": "# Invoice **42**", "elements": [{"kind": "heading", "text": "Invoice 42"}]})
    'invoice 42 heading invoice 42'
    """
    words = re.findall(r"\w+", " ".join(strings_of(label)).lower())
    return " ".join(words)


def _disagreement(entry: ImageLabels, is_offline: Callable[[str], bool]) -> tuple[str, float] | None:
    """(why, % alike) when the newest offline label and the newest other label differ; None otherwise."""
    newest: dict[str, LabelRecord] = {}
    for label in entry.labels:
        if label.outcome == "ok":
            newest[label.teacher] = label
    offline = [t for t in newest if is_offline(t)]
    others = [t for t in newest if not is_offline(t)]
    if not offline or not others:
        return None
    a, b = newest[offline[-1]], newest[others[-1]]
    alike = fuzz.ratio(label_text(a.label), label_text(b.label))
    return (f"{a.teacher} vs {b.teacher}: {alike:.0f}% alike", alike) if alike < DISAGREE_BELOW else None


def build_queues(store: RunStore, is_offline: Callable[[str], bool], mined: list[str] = (),
                 sample_size: int = 50, seed: int = 0) -> list[QueueRow]:
    """Every queue's items as rows for ``RunStore.replace_review_items``."""
    entries: dict[tuple[str, str], ImageLabels] = defaultdict(ImageLabels)
    sha_of, pages_of = {}, defaultdict(list)
    for row in store.rendered_page_rows():
        sha_of[(row["doc_id"], row["page_index"])] = row["image_sha256"]
        pages_of[row["image_sha256"]].append((row["doc_id"], row["page_index"], row["image_path"]))
    tasks = sorted({row["name"] for row in store.tasks().values()})
    audits = {(r["doc_id"], r["page_index"]): r for r in store.iter_privacy_audit()}
    for label in store.iter_labels():
        sha = sha_of.get((label.doc_id, label.page_index))
        if sha is not None:
            entries[(sha, label.task)].labels.append(label)
    for sha in pages_of:
        for task in tasks:
            entries[(sha, task)].pages = sorted(pages_of[sha])
    mined_rank: dict[str, int] = {}
    for rank, item_id in enumerate(mined):
        mined_rank.setdefault(item_id, rank)
    ranked: dict[str, list] = defaultdict(list)
    spare = []
    for (sha, task), entry in sorted(entries.items(), key=lambda kv: (kv[1].pages[:1], kv[0][1])):
        entry.labels.sort(key=lambda label: label.created_at)
        label = entry.chosen()
        doc_id, page_index = (label.doc_id, label.page_index) if label else entry.pages[0][:2]
        place = queue_of(entry, is_offline, mined_rank, task, audits.get((doc_id, page_index)))
        row = (doc_id, page_index, task, sha)
        if place is None:
            if label is not None and label.outcome == "ok":
                spare.append(row)
            continue
        queue, why, rank = place
        ranked[queue].append((rank, row, why))
    by_queue: dict[str, list] = defaultdict(list)      # sorted is stable: equal ranks keep the pages' order
    for queue, items in ranked.items():
        by_queue[queue] = [(row, why) for _, row, why in sorted(items, key=lambda item: item[0])]
    for row in sorted(random.Random(seed).sample(spare, min(sample_size, len(spare)))):
        by_queue["sample"].append((row, "spot check"))
    return [(queue, position, *row[:4], why) for queue in QUEUES
            for position, (row, why) in enumerate(by_queue[queue])]


def mined_ids(eval_dir: Path) -> list[str]:
    """Item ids of evaluate's mined failures, hardest first: ``<page key>:<task>``.

    ``eval_dir`` is evaluate's ``--out`` (its results.json names the mining folder) or the ``--mine``
    folder itself.
    """
    if not eval_dir.is_dir():
        raise ConfigError(f"--eval-dir {eval_dir} is not a folder; give evaluate's --out or its --mine folder")
    folders = [eval_dir]
    results = eval_dir / "results.json"
    if results.is_file():
        mined = json.loads(results.read_text(encoding="utf-8")).get("mined") or {}
        if mined.get("dir"):
            folders.append(Path(mined["dir"]))
    ids: list[str] = []
    for pattern in ("*_hard.json", "*_regression.json"):
        for folder in folders:
            for path in sorted(folder.glob(pattern)):
                try:
                    records = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, json.JSONDecodeError) as exc:
                    raise ConfigError(f"--eval-dir: {path} cannot be read as JSON ({exc})") from exc
                ids += [r["id"] for r in records if isinstance(r, dict) and r.get("id") and r["id"] not in ids]
    if not ids:
        raise ConfigError(f"--eval-dir {eval_dir} holds no mined failures (no *_hard.json or *_regression.json "
                          "with ids): run python -m pipeline.evaluate with --mine DIR first")
    return ids
