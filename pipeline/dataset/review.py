"""Review verdicts in the dataset (``python -m pipeline.review``): what a person decided wins.

Per image and task, the newest verdict that is not a skip decides: a rejected label is left out
(``dropped.rejected_in_review``, and by reason in the manifest's ``review``); an edited label replaces
the teacher's; an accepted one is kept as accepted (the label the reviewer saw). Pages that no teacher
answered (held back by the privacy gate) enter with the label a person gave them. With ``--golden``
the accepted and edited pages form ``<name>_golden``, a locked set for evaluation: never trained on
(their documents, with near-duplicates, leave train and val; the other pages of those documents are
dropped as ``held_out_golden_document``) and never mined (each record says ``"golden": true``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

GOLDEN = "golden"
HELD_OUT = "held_out_golden_document"
REJECTED = "rejected_in_review"


class Picked(NamedTuple):
    """The label one page gets under one task, and whose it is."""

    label_json: str
    prompt_hash: str
    schema_hash: str
    teacher: str               # teacher/model, or review/edit for a person's label
    golden: bool = False


@dataclass
class Reviewed:
    """The run's review decisions ((image sha256, task) -> verdict row) and what they did to the dataset."""

    decisions: dict
    golden: bool = False
    counts: Counter = field(default_factory=Counter)           # pages: accept, edit, reject
    reasons: Counter = field(default_factory=Counter)          # rejected pages by reason

    def tasks(self) -> set[str]:
        return {task for _, task in self.decisions}

    def pick(self, image_sha256: str, task: str, row) -> Picked | str | None:
        """The label for a page: the verdict's, the teacher's ``row``, REJECTED, or None (nothing valid)."""
        decision = self.decisions.get((image_sha256, task))
        if decision is None:
            if row is None:
                return None
            return Picked(row["label_json"], row["prompt_hash"], row["schema_hash"], f"{row['teacher']}/{row['model']}")
        verdict = decision["verdict"]
        self.counts[verdict] += 1
        if verdict == "reject":
            self.reasons[decision["reason"].split(":", 1)[0].strip() or "unstated"] += 1
            return REJECTED
        teacher = "review/edit" if verdict == "edit" or row is None else f"{row['teacher']}/{row['model']}"
        return Picked(decision["label_after"], decision["prompt_hash"], decision["schema_hash"], teacher, self.golden)

    def summary(self, golden_records: int, held_out: int, golden_documents: int) -> dict:
        """The manifest's ``review`` section.

        >>> Reviewed({}, counts=Counter(accept=2, reject=1), reasons=Counter(wrong_text=1)).summary(0, 0, 0)
        {'verdicts': 0, 'accepted': 2, 'edited': 0, 'rejected': 1, 'rejected_by_reason': {'wrong_text': 1}, \
'golden': False, 'golden_records': 0, 'golden_documents': 0, 'held_out_golden_document_pages': 0}
        """
        return {"verdicts": len(self.decisions), "accepted": self.counts["accept"], "edited": self.counts["edit"],
                "rejected": self.counts["reject"], "rejected_by_reason": dict(sorted(self.reasons.items())),
                "golden": self.golden, "golden_records": golden_records, "golden_documents": golden_documents,
                "held_out_golden_document_pages": held_out}


def golden_groups(groups: dict[str, list[str]], golden_docs: set[str]) -> tuple[dict[str, str], dict]:
    """(doc_id -> "golden" for every document grouped with a golden one, the other groups).

    >>> golden_groups({"a": ["a", "c"], "b": ["b"]}, {"c"})
    ({'a': 'golden', 'c': 'golden'}, {'b': ['b']})
    """
    split_of, rest = {}, {}
    for gid, members in groups.items():
        if golden_docs & set(members):
            split_of.update(dict.fromkeys(members, GOLDEN))
        else:
            rest[gid] = members
    return split_of, rest


def golden_record(line: str) -> str:
    """A record's JSON line marked golden (evaluate never mines such items).

    >>> golden_record('{"conversations": [], "images": ["a.jpg"]}')
    '{"conversations": [], "images": ["a.jpg"], "golden": true}'
    """
    return line[:-1] + ', "golden": true}'
