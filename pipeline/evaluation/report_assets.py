"""The report's pictures and diffs: bar charts (matplotlib, Agg), page thumbnails, answer diffs."""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

THUMB_SIDE = 360            # px on the longest side: enough to recognise the page, small beside the report


def number(value) -> float | None:
    """A summary value as one number: a float as is, a dict by its mean/score/rate, else None.

    >>> number(0.5), number({"mean": 0.25, "n": 4}), number("x")
    (0.5, 0.25, None)
    """
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dict):
        for key in ("mean", "score", "anls_star", "rate", "value"):
            if isinstance(value.get(key), (int, float)):
                return float(value[key])
    return None


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise RuntimeError("the evaluation report needs matplotlib: pip install matplotlib") from exc
    matplotlib.use("Agg")       # files only: never a display
    import matplotlib.pyplot as plt
    return plt


def bar_chart(path: Path, title: str, xlabel: str, series: dict[str, dict[str, float]],
              unit_scale: bool = False) -> Path | None:
    """Horizontal grouped bars: one group per category, one bar per system. None when there is no data."""
    categories = sorted({c for values in series.values() for c in values})
    if not categories:
        return None
    plt = _pyplot()
    systems = list(series)
    height = 0.8 / max(1, len(systems))
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.35 * len(categories) * max(1, len(systems)) + 1.2)))
    for i, system in enumerate(systems):
        positions = [k + i * height for k in range(len(categories))]
        ax.barh(positions, [series[system].get(c, 0.0) for c in categories], height=height, label=system)
    ax.set_yticks([k + height * (len(systems) - 1) / 2 for k in range(len(categories))])
    ax.set_yticklabels(categories)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    if unit_scale:
        ax.set_xlim(0, 1)
    else:                                   # counts: whole numbers on the axis
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    if len(systems) > 1:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")   # outside: never over a bar
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def safe_name(item_id: str) -> str:
    """
    >>> safe_name("0a1b_p0001:receipt#2")
    '0a1b_p0001_receipt_2'
    """
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", item_id).strip("_") or "item"


def thumbnail(image: Path | None, target: Path) -> Path | None:
    """A small JPEG of the page (None when the page image is missing or unreadable)."""
    if image is None or not image.is_file():
        return None
    import cv2

    pixels = cv2.imread(str(image), cv2.IMREAD_COLOR)
    if pixels is None:
        return None
    scale = THUMB_SIDE / max(pixels.shape[:2])
    if scale < 1:
        pixels = cv2.resize(pixels, (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale))),
                            interpolation=cv2.INTER_AREA)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target if cv2.imwrite(str(target), pixels, [cv2.IMWRITE_JPEG_QUALITY, 80]) else None


def pretty(text_or_obj) -> str:
    """JSON pretty-printed with sorted keys (so a diff shows content, not order); other text as is.

    >>> print(pretty('{"b": 1, "a": [2]}'))
    {
      "a": [
        2
      ],
      "b": 1
    }
    """
    if isinstance(text_or_obj, str):
        try:
            text_or_obj = json.loads(text_or_obj)
        except json.JSONDecodeError:
            return text_or_obj
    return json.dumps(text_or_obj, ensure_ascii=False, indent=2, sort_keys=True)


def answer_diff(prediction: str, reference: dict, limit: int = 80) -> list[str]:
    """Unified diff lines, reference -> prediction, at most ``limit`` lines.

    >>> answer_diff('{"total": "9"}', {"total": "10"})[2:]
    ['@@ -1,3 +1,3 @@', ' {', '-  "total": "10"', '+  "total": "9"', ' }']
    """
    lines = list(difflib.unified_diff(pretty(reference).splitlines(), pretty(prediction).splitlines(),
                                      "reference", "prediction", lineterm=""))
    return lines[:limit] + ([f"... {len(lines) - limit} more lines"] if len(lines) > limit else [])
