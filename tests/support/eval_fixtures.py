"""Small real inputs for the evaluate tests: page images, receipt references, predictions files."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

RECEIPT_PROMPT = "Extract the receipt as JSON: menu (nm, cnt, price), sub_total, total."


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
