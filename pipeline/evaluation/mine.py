"""Failure mining: what the student got wrong becomes training data for the next round.

Two LLaMA-Factory ShareGPT datasets in the mining folder, in build_dataset's record format (plus an
``id`` field, which LLaMA-Factory ignores), images copied beside them:

- ``<name>_regression``: every item the student has ever failed. It grows and never shrinks: this
  cycle's failures are merged by id into what the folder already holds, so a fixed failure stays a
  test of not forgetting.
- ``<name>_hard``: this cycle's hardest items (the N worst per failure type, and the N worst
  overall), replaced every cycle.

Both are registered in the folder's dataset_info.json (other entries kept) with ``num_samples`` =
records x the oversampling factor: LLaMA-Factory then draws each record that many times on average.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.evaluation.inputs import EvalItem, page_key
from pipeline.dataset.sharegpt import dataset_info_entry, escape_media_tags, merge_dataset_info


@dataclass(frozen=True)
class MineConfig:
    out_dir: Path
    name: str = "docdistill_mined"
    top_n: int = 20                   # per failure type, and overall
    oversample: int = 3               # num_samples = records x this
    pass_score: float = 0.9           # an item below this ANLS* (or with any failure tag) failed


def refuse_test_split(references: Path | None, items: list[EvalItem]) -> None:
    """ConfigError when the references are a held-out test split (``<name>_test.json`` or
    ``<name>_<task>_test.json``, or any page of a ``*_test.json`` beside them): test pages are scored,
    never trained on, so never mined.

    >>> refuse_test_split(Path("ds/docdistill_test.json"), [])
    Traceback (most recent call last):
    ...
    pipeline.errors.ConfigError: --mine refused: ds/docdistill_test.json is the held-out test split; ...
    """
    if references is None:
        return
    if references.stem.endswith("_test"):
        raise ConfigError(f"--mine refused: {references} is the held-out test split; it is scored every round and "
                          "never trained on. Mine the validation split instead (--references "
                          f"{references.with_name(references.stem[:-5] + '_val.json')}), or drop --mine")
    test_pages = set()
    for path in sorted(references.parent.glob("*_test.json")):
        try:
            records = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        test_pages |= {page_key(img) for r in records if isinstance(r, dict) for img in (r.get("images") or [])[:1]}
    overlap = sorted({item.id for item in items if item.image is not None and page_key(str(item.image)) in test_pages})
    if overlap:
        raise ConfigError(f"--mine refused: {len(overlap)} reference items of {references} are test pages "
                          f"(first: {overlap[0]}, in {references.parent}/*_test.json); test pages are never "
                          "trained on. Mine the validation split instead, or drop --mine")


def item_score(score) -> float:
    """The one number items are ranked by (ANLS* of either weighting, else exact match, else 0)."""
    metrics = getattr(score, "metrics", None) or {}
    value = metrics.get("anls_star", metrics.get("anls_star_key", metrics.get("exact")))
    return float(value) if value is not None else 0.0


def failed(score, pass_score: float) -> bool:
    return bool(getattr(score, "failures", None)) or item_score(score) < pass_score


def hardest(scores: list, top_n: int) -> list:
    """The N worst per failure tag plus the N worst overall, worst first, each once.

    >>> from types import SimpleNamespace as S
    >>> scores = [S(id="a", failures=["parse_failure"], metrics={"anls_star": 0.0}),
    ...           S(id="b", failures=[], metrics={"anls_star": 0.5}),
    ...           S(id="c", failures=[], metrics={"anls_star": 1.0})]
    >>> [s.id for s in hardest(scores, 1)]
    ['a']
    >>> [s.id for s in hardest(scores, 2)]
    ['a', 'b']
    """
    ranked = sorted(scores, key=item_score)
    chosen: dict[str, object] = {s.id: s for s in ranked[:top_n]}
    tags = sorted({tag for s in ranked for tag in (s.failures or [])})
    for tag in tags:
        for s in [s for s in ranked if tag in (s.failures or [])][:top_n]:
            chosen.setdefault(s.id, s)
    return sorted(chosen.values(), key=item_score)


def _record(item: EvalItem, image: str) -> dict:
    answer = escape_media_tags(json.dumps(item.reference, ensure_ascii=False))
    return {"id": item.id, "conversations": [{"from": "human", "value": "<image>" + (item.prompt or "")},
                                             {"from": "gpt", "value": answer}], "images": [image]}


def _place(item: EvalItem, out_dir: Path) -> str:
    """Copy the page image into the mining folder once; returns its path relative to the folder."""
    assert item.image is not None
    relative = f"images/{page_key(str(item.image))}{item.image.suffix.lower()}"
    target = out_dir / relative
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(item.image, target.with_name(target.name + ".tmp"))
        os.replace(target.with_name(target.name + ".tmp"), target)
    return relative


def _read_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); fix or delete it") from exc
    if not isinstance(records, list):
        raise ValueError(f"{path} is not a JSON array of records; fix or delete it")
    return records


def _write_records(path: Path, records: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n]\n",
                   encoding="utf-8")
    os.replace(tmp, path)


def mine(items: list[EvalItem], scores: list, cfg: MineConfig) -> dict:
    """Write this cycle's regression and hard sets; returns what was written and skipped."""
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    by_id = {item.id: item for item in items}
    skipped: Counter = Counter()

    def records_for(chosen: list) -> list[dict]:
        out = []
        for score in chosen:
            item = by_id[score.id]
            if item.golden:                 # a locked evaluation set: mining it would train on it
                skipped["golden"] += 1
            elif item.image is None or not item.image.is_file():
                skipped["no_image"] += 1
            elif not item.prompt:
                skipped["no_prompt"] += 1
            else:
                out.append(_record(item, _place(item, cfg.out_dir)))
        return out

    regression_path = cfg.out_dir / f"{cfg.name}_regression.json"
    regression = _read_records(regression_path)
    known = {r.get("id") for r in regression}
    new = [r for r in records_for([s for s in scores if failed(s, cfg.pass_score)]) if r["id"] not in known]
    regression += new
    hard = records_for(hardest([s for s in scores if failed(s, cfg.pass_score)], cfg.top_n))
    _write_records(regression_path, regression)
    _write_records(cfg.out_dir / f"{cfg.name}_hard.json", hard)
    entries = {}
    for stem, records in ((f"{cfg.name}_regression", regression), (f"{cfg.name}_hard", hard)):
        entry = dataset_info_entry(f"{stem}.json", with_system=False)
        if records:
            entry["num_samples"] = len(records) * cfg.oversample
        entries[stem] = entry
    merge_dataset_info(cfg.out_dir / "dataset_info.json", entries)
    summary = {"dir": str(cfg.out_dir), "regression": len(regression), "regression_new": len(new),
               "hard": len(hard), "oversample": cfg.oversample, "skipped": dict(skipped),
               "failures": dict(Counter(t for s in scores for t in (s.failures or []))),
               "datasets": sorted(entries), "mined_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (cfg.out_dir / "mined.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
