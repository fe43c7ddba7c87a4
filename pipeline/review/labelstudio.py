"""Label Studio export and import, for teams that already run it (optional; README "Review").

Export: the review queues as Label Studio's JSON import format, one task per item: ``data.image`` (a
local-files URL under the run folder: start Label Studio with ``LOCAL_FILES_SERVING_ENABLED=true``
and ``LOCAL_FILES_DOCUMENT_ROOT=<run folder>``), ``data.docdistill`` (the item's identity) and one
prediction, the label as JSON text in a TextArea named ``label_json``. Import: Label Studio's JSON
export of those tasks; each task's last annotation becomes a verdict (its text validated with the
task's model, as in the review page: accept or edit), a cancelled (skipped) one a reject. Answers
that do not parse or validate are counted by reason and not stored.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from pipeline.errors import ConfigError, ReviewConflict
from pipeline.review.items import VerdictRefused
from pipeline.review.setup import prepare
from pipeline.store import RunStore

LABEL_CONFIG = ('<View><Image name="image" value="$image" zoom="true"/>'
                '<TextArea name="label_json" toName="image" rows="24" editable="true" maxSubmissions="1"/></View>')


def export_tasks(cfg, out: Path) -> dict:
    session, counts = prepare(cfg)
    tasks = []
    with RunStore(cfg.run_dir) as store:
        for item in store.iter_review_items():
            page = store.page_row(item["doc_id"], item["page_index"])
            start = session.start(store, item, page)
            data = {"image": f"/data/local-files/?d={quote(page['image_path'])}",
                    "docdistill": {"queue": item["queue"], "position": item["position"], "task": item["task"],
                                   "doc_id": item["doc_id"], "page_index": item["page_index"], "why": item["why"]}}
            task = {"data": data}
            if start.label is not None:
                text = json.dumps(start.label, ensure_ascii=False, indent=1)
                task["predictions"] = [{"model_version": start.source, "result": [
                    {"from_name": "label_json", "to_name": "image", "type": "textarea", "value": {"text": [text]}}]}]
            tasks.append(task)
    out.write_text(json.dumps(tasks, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return {"exported": len(tasks), "file": str(out), "queues": counts, "label_config": LABEL_CONFIG}


def import_annotations(cfg, source: Path) -> dict:
    try:
        tasks = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--import-label-studio {source}: not a readable JSON export ({exc})") from exc
    if not isinstance(tasks, list):
        raise ConfigError(f"--import-label-studio {source}: expected Label Studio's JSON export (a list of tasks)")
    session, _ = prepare(cfg)
    outcome: Counter = Counter()
    with RunStore(cfg.run_dir) as store:
        for task in tasks:
            ours = ((task.get("data") or {}).get("docdistill") or {}) if isinstance(task, dict) else {}
            annotations = [a for a in task.get("annotations") or [] if isinstance(a, dict)] if ours else []
            item = store.review_item(str(ours.get("queue")), int(ours.get("position", -1))) if ours else None
            if item is None or item["doc_id"] != ours.get("doc_id") or not annotations:
                outcome["not_a_reviewed_docdistill_task"] += 1
                continue
            last = annotations[-1]
            body = {"revision": store.label_revision(item["image_sha256"], item["task"])}
            if last.get("was_cancelled"):
                body.update(verdict="reject", reason="other: cancelled in Label Studio")
            else:
                texts = [t for r in last.get("result") or [] if r.get("from_name") == "label_json"
                         for t in (r.get("value") or {}).get("text") or []]
                try:
                    body.update(verdict="accept", label=json.loads(texts[-1]))
                except (IndexError, json.JSONDecodeError):
                    outcome["annotation_not_json"] += 1
                    continue
            try:
                outcome[session.decide(store, item, body)["verdict"]] += 1
            except VerdictRefused:
                outcome["annotation_invalid"] += 1
            except ReviewConflict:
                outcome["conflict"] += 1
    return {"imported": sum(outcome[v] for v in ("accept", "edit", "reject")), "outcomes": dict(outcome)}
