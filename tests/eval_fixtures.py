"""Helpers for the evaluate tests: small real inputs, and a TEMPORARY stand-in for the metrics library.

``use_scoring(monkeypatch)`` leaves pipeline.evaluation alone when it already provides score_item,
aggregate, cord_scores and format_cord_table (the real metrics library); until it does, it installs a
tiny stand-in with the same interface, so these tests exercise the CLI, inputs, endpoint, mining
and report, not the metrics. Delete the stand-in once pipeline/evaluation/__init__.py exports them.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

import pipeline.evaluation

RECEIPT_PROMPT = "Extract the receipt as JSON: menu (nm, cnt, price), sub_total, total."


@dataclass
class _ItemScore:
    id: str
    strict_json: bool
    salvaged: bool
    schema_valid: bool
    exact_keys: bool
    predicted: dict | None
    fields: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)


def _score_item(item_id, prediction, reference, *, schema=None, prompt=None, page_text=None, config=None):
    try:
        predicted = json.loads(prediction)
    except json.JSONDecodeError:
        return _ItemScore(item_id, False, False, False, False, None, {k: 0.0 for k in reference},
                          {"anls_star": 0.0, "exact": 0.0}, ["parse_failure"])
    fields = {k: float(predicted.get(k) == v) for k, v in reference.items()} if isinstance(predicted, dict) else {}
    anls = sum(fields.values()) / len(fields) if fields else float(predicted == reference)
    return _ItemScore(item_id, True, False, True, isinstance(predicted, dict) and set(predicted) == set(reference),
                      predicted, fields, {"anls_star": anls, "exact": float(predicted == reference)},
                      [] if anls == 1 else ["wrong_value"])


def _aggregate(scores):
    n = len(scores)
    mean = (lambda xs: sum(xs) / len(xs) if xs else 0.0)
    fields: dict[str, list] = {}
    for s in scores:
        for k, v in s.fields.items():
            fields.setdefault(k, []).append(v)
    return {"n": n, "contract": {"strict_json": mean([float(s.strict_json) for s in scores])},
            "metrics": {m: mean([s.metrics[m] for s in scores]) for m in ("anls_star", "exact")},
            "fields": {k: mean(v) for k, v in fields.items()},
            "failures": dict(Counter(t for s in scores for t in s.failures))}


def _cord_scores(pairs):
    return {"n": len(pairs), "exact": sum(1 for p, r in pairs if _loads(p) == r) / max(1, len(pairs))}


def _format_cord_table(tables):
    return "| system | n | exact |\n| --- | --- | --- |\n" + "\n".join(
        f"| {name} | {t['n']} | {t['exact']:.3f} |" for name, t in tables.items())


def _loads(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def use_scoring(monkeypatch) -> None:
    for name, shim in (("score_item", _score_item), ("aggregate", _aggregate), ("cord_scores", _cord_scores),
                       ("format_cord_table", _format_cord_table)):
        if not hasattr(pipeline.evaluation, name):
            monkeypatch.setattr(pipeline.evaluation, name, shim, raising=False)


def write_page(path: Path, shade: int = 200) -> Path:
    """A small real JPEG page with a dark bar on it."""
    pixels = np.full((200, 150, 3), shade, dtype=np.uint8)
    pixels[40:60, 20:130] = 20
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), pixels)
    return path


def receipt(total: str, name: str = "Tea") -> dict:
    return {"menu": [{"nm": name, "cnt": "1", "price": total}], "sub_total": {"subtotal_price": total},
            "total": {"total_price": total}}


def write_receipt_split(folder: Path, totals: list[str]) -> Path:
    """A build_dataset-style split (<name>_val.json, images/<xx>/<doc>_p0001.jpg) of receipt pages."""
    records = []
    for i, total in enumerate(totals):
        doc = f"{i:02x}" + "ab" * 7
        image = f"images/{doc[:2]}/{doc}_p0001.jpg"
        write_page(folder / image, shade=120 + 10 * i)
        records.append({"conversations": [{"from": "human", "value": "<image>" + RECEIPT_PROMPT},
                                          {"from": "gpt", "value": json.dumps(receipt(total))}], "images": [image]})
    path = folder / "docdistill_val.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def write_predictions(path: Path, pairs: list[tuple[str, dict]]) -> Path:
    """generated_predictions.jsonl lines from (prediction text, reference) pairs."""
    lines = [json.dumps({"prompt": f"<start_of_turn>user\n<start_of_image>{RECEIPT_PROMPT}<end_of_turn>\n",
                         "predict": text, "label": json.dumps(ref)}) for text, ref in pairs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
