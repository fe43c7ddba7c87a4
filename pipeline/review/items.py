"""One review item as the page shows it, and a verdict on it: the review's logic, without HTTP.

The label an item starts from is, in order: the newest accepted or edited review of it, the
teacher's valid answer, the JSON salvaged from a failed answer, or a prefill from a local teacher.
A verdict is checked here (an edit must validate with the task's model, a reject needs a reason)
and appended to the store with the label before and after and their diff.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pipeline.errors import ConfigError
from pipeline.label.answers import salvage_json
from pipeline.records import VERDICTS, ReviewVerdict
from pipeline.review.forms import TaskForm, json_diff, validation_errors
from pipeline.review.prefill import Prefiller
from pipeline.review.queues import QUEUE_TITLES
from pipeline.store import RunStore

REJECT_REASONS = ("wrong_text", "missing_content", "wrong_fields", "wrong_language", "invented_content",
                  "unreadable_page", "other")


class VerdictRefused(ValueError):
    """A verdict that cannot be stored as sent (invalid label, no reason): ``errors`` say where."""

    def __init__(self, message: str, errors: list[dict] | None = None):
        super().__init__(message)
        self.errors = errors or []


@dataclass
class Start:
    """What an item's form starts from."""

    label: dict | None
    source: str                      # teacher/model, review, salvaged, prefill:..., or ''
    form: TaskForm | None
    request_key: str = ""
    notes: tuple[str, ...] = ()


class ReviewSession:
    """Shared by every request thread (it holds no connection: each call gets the thread's store)."""

    def __init__(self, forms: dict[tuple[str, str], TaskForm], reviewer: str, prefiller: Prefiller):
        self.forms, self.reviewer, self.prefiller = forms, reviewer, prefiller
        self.by_name: dict[str, TaskForm] = {}
        for form in forms.values():
            self.by_name.setdefault(form.name, form)

    def start(self, store: RunStore, item, page) -> Start:
        reviewed = store.latest_verdict(item["image_sha256"], item["task"], decided=True)
        labels = store.page_label_rows(item["doc_id"], item["page_index"], item["task"])
        ok = [r for r in labels if r["outcome"] == "ok"]
        chosen = (ok or labels or [None])[-1]
        form = (self.forms.get((chosen["prompt_hash"], chosen["schema_hash"])) if chosen is not None else None) \
            or self.by_name.get(item["task"])
        key = chosen["request_key"] if chosen is not None else ""
        if reviewed is not None and reviewed["verdict"] in ("accept", "edit"):
            return Start(json.loads(reviewed["label_after"]), f"review (revision {reviewed['revision']} by "
                         f"{reviewed['reviewer']})", form, key)
        if chosen is not None and chosen["outcome"] == "ok":
            return Start(json.loads(chosen["label_json"]), f"{chosen['teacher']}/{chosen['model']}", form, key)
        if chosen is not None and chosen["raw_text"]:
            data, how = salvage_json(chosen["raw_text"])
            if data is not None:
                return Start(data, f"salvaged ({how}) from {chosen['teacher']}'s {chosen['outcome']} answer",
                             form, key)
        if form is None:
            return Start(None, "", None, key, ("no task definition for this task in the run store",))
        label, source, notes = self.prefiller.prefill(store, form, page)
        return Start(label, source, form, key, tuple(notes))

    def item(self, store: RunStore, item) -> dict:
        """Everything the page needs to show one item (JSON-ready)."""
        page = store.page_row(item["doc_id"], item["page_index"])
        start = self.start(store, item, page)
        latest = store.latest_verdict(item["image_sha256"], item["task"])
        document = store.get_document(item["doc_id"])
        return {
            "queue": item["queue"], "queue_title": QUEUE_TITLES[item["queue"]], "position": item["position"],
            "why": item["why"], "done": bool(item["done"]), "doc_id": item["doc_id"],
            "page_index": item["page_index"], "page_no": item["page_index"] + 1, "task": item["task"],
            "document": document["path"] if document is not None else "",
            "image": f"image/{item['doc_id']}/{item['page_index']}", "width": page["width"], "height": page["height"],
            "label": start.label, "source": start.source, "notes": list(start.notes),
            "schema": start.form.schema if start.form else None, "revision": latest["revision"] if latest else 0,
            "verdict": _verdict_view(latest), "reasons": list(REJECT_REASONS),
            "progress": progress(store)}

    def decide(self, store: RunStore, item, payload: dict) -> dict:
        """Store one verdict on ``item``; raises VerdictRefused or ReviewConflict (nothing stored)."""
        kind = payload.get("verdict")
        if kind not in ("accept", "reject", "skip"):
            raise VerdictRefused(f"verdict must be accept, reject or skip, not {kind!r}")
        try:
            base = int(payload.get("revision", 0))
        except (TypeError, ValueError):
            raise VerdictRefused("revision must be a number") from None
        page = store.page_row(item["doc_id"], item["page_index"])
        start = self.start(store, item, page)
        if start.form is None:
            raise VerdictRefused("this task has no definition in the run store: nothing can be validated")
        after, reason = None, ""
        if kind == "accept":
            after, errors = validation_errors(start.form.model, payload.get("label"))
            if errors:
                raise VerdictRefused("the label does not validate: fix the fields marked", errors)
            kind = "accept" if after == start.label else "edit"
        elif kind == "reject":
            reason = str(payload.get("reason") or "").strip()[:500]
            if not reason:
                raise VerdictRefused("a reject needs a reason", [{"loc": "", "msg": "give a reason"}])
        assert kind in VERDICTS
        verdict = ReviewVerdict(
            image_sha256=item["image_sha256"], task=item["task"], doc_id=item["doc_id"],
            page_index=item["page_index"], verdict=kind, reviewer=self.reviewer, prompt_hash=start.form.prompt_hash,
            schema_hash=start.form.schema_hash, reason=reason, request_key=start.request_key, source=start.source,
            label_before=start.label, label_after=after,
            diff=json_diff(start.label, after) if after is not None else [])
        revision = store.add_verdict(verdict, base)
        return {"verdict": kind, "revision": revision, "diff": verdict.diff, "progress": progress(store)}


def progress(store: RunStore) -> list[dict]:
    return [{"queue": r["queue"], "title": QUEUE_TITLES[r["queue"]], "total": r["total"], "done": r["done"]}
            for r in store.review_progress()]


def _verdict_view(row) -> dict | None:
    if row is None:
        return None
    return {"verdict": row["verdict"], "reviewer": row["reviewer"], "reason": row["reason"],
            "revision": row["revision"], "at": row["created_at"]}


def check_reviewer(name: str) -> str:
    """
    >>> check_reviewer("  amira "), check_reviewer("Amira Haddad")
    ('amira', 'Amira Haddad')
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise ConfigError("--reviewer must be a name of 1 to 100 characters")
    return name
