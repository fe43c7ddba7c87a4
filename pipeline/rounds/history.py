"""Step 5 of a round: its entry in ``rounds/history.json`` (one per round, replaced on a rerun).

An entry holds what the round trained on and how (the plan), the test and val scores of the student
(val marked ``seen_in_training`` once mined pages of it are in the training files), the pass rate on
the regression set the round trained on, and the regressions: test items right in round N-1 and
wrong in round N.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pipeline.evaluation.mine import failed


class _Score:
    """A scores.jsonl row as ``mine.failed`` reads it."""

    def __init__(self, row: dict):
        self.id, self.metrics, self.failures = row["id"], row.get("metrics") or {}, row.get("failures") or []


def student_scores(eval_dir: Path, system: str = "student") -> dict[str, _Score]:
    """item id -> the student's score in an evaluate folder (empty when there is none)."""
    path = eval_dir / "scores.jsonl"
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {r["id"]: _Score(r) for r in rows if r.get("system") == system}


def regressions(before: dict, after: dict, pass_score: float) -> list[str]:
    """Items that passed before and fail now (on the items both rounds scored).

    >>> ok, bad = {"metrics": {"anls_star": 1.0}}, {"metrics": {"anls_star": 0.2}}
    >>> before = {"a": _Score({"id": "a", **ok}), "b": _Score({"id": "b", **bad})}
    >>> after = {"a": _Score({"id": "a", **bad}), "b": _Score({"id": "b", **ok})}
    >>> regressions(before, after, 0.9)
    ['a']
    """
    return sorted(i for i in before.keys() & after.keys()
                  if not failed(before[i], pass_score) and failed(after[i], pass_score))


def _split_summary(eval_dir: Path) -> dict | None:
    path = eval_dir / "results.json"
    if not path.is_file():
        return None
    result = json.loads(path.read_text(encoding="utf-8"))
    systems = result.get("systems") or {}
    student = systems.get("student") or {}
    return {"items": result.get("items"), "metrics": student.get("metrics") or {},
            "fields": student.get("fields") or {}, "failures": student.get("failures") or {},
            "systems": {name: s.get("metrics") or {} for name, s in systems.items()},
            "mined": result.get("mined"), "report": (result.get("report") or {}).get("html")}


def trainer_summary(output_dir: Path) -> dict:
    """Steps, last loss, eval losses and the checkpoint LLaMA-Factory kept, from trainer_state.json."""
    try:
        state = json.loads((output_dir / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    logs = state.get("log_history") or []
    losses = [e["loss"] for e in logs if "loss" in e]
    return {"global_step": state.get("global_step"), "last_loss": losses[-1] if losses else None,
            "eval_losses": [e["eval_loss"] for e in logs if "eval_loss" in e],
            "best_model_checkpoint": state.get("best_model_checkpoint"), "best_metric": state.get("best_metric")}


def round_entry(root: Path, round_dir: Path, plan: dict, previous_dir: Path | None, pass_score: float,
                regression_ids: set[str]) -> dict:
    """The history entry of one finished round."""
    test, val = _split_summary(round_dir / "eval_test"), _split_summary(round_dir / "eval_val")
    if val is not None:
        val["seen_in_training"] = plan["val_seen_in_training"]
    scored = "test" if test is not None else "val"
    now = student_scores(round_dir / f"eval_{scored}")
    before = student_scores(previous_dir / f"eval_{scored}") if previous_dir else {}
    val_scores = student_scores(round_dir / "eval_val")
    on_regression = [val_scores[i] for i in regression_ids if i in val_scores]
    return {"round": plan["round"], "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "plan": plan, "train": trainer_summary(root / plan["output_dir"]), "test": test, "val": val,
            "regression_set": {"items": len(on_regression),
                               "pass_rate": (sum(not failed(s, pass_score) for s in on_regression) / len(on_regression)
                                             if on_regression else None)},
            "regressions": {"split": scored, "items": regressions(before, now, pass_score) if before else []}}


def load_history(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        from pipeline.errors import ConfigError
        raise ConfigError(f"{path} is not valid JSON ({exc}); fix it (each round's files are kept in "
                          "rounds/round_N/)") from exc
    return data.get("rounds", []) if isinstance(data, dict) else []


def save_entry(path: Path, entry: dict) -> list[dict]:
    """Add or replace the entry of its round; returns the history, oldest round first."""
    rounds = [e for e in load_history(path) if e.get("round") != entry["round"]] + [entry]
    rounds.sort(key=lambda e: e["round"])
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"version": 1, "rounds": rounds}, ensure_ascii=False, indent=2, default=str) + "\n",
                   encoding="utf-8")
    os.replace(tmp, path)
    return rounds
