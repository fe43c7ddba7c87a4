"""One round, step by step, each skipped when its output exists (kill it anywhere, rerun, it goes on).

1. ``rounds/round_N/*.yaml`` + ``plan.json`` (``plan.plan_round``);
2. training (``llamafactory-cli train`` or ``--train-cmd``) into ``saves/<name>_rN``;
3. predictions on val and test with this round's adapter (``--predict-cmd`` to hand them off too);
4. evaluation of test (never mined) and of val, mined into ``<name>_mined_rN_{hard,regression}``;
5. the round's entry in ``rounds/history.json`` and ``rounds/report.html``.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.evaluation.mine import MineConfig
from pipeline.evaluation.run import EvalConfig, evaluate
from pipeline.evaluation.systems import SystemSpec
from pipeline.rounds.config import Layout, RoundConfig, read_layout
from pipeline.rounds.history import load_history, round_entry, save_entry
from pipeline.rounds.plan import plan_round, read_records
from pipeline.rounds.report import write_report
from pipeline.rounds.steps import lf_command, run_step, user_command

WEIGHT_SUFFIXES = (".safetensors", ".bin")


def pick_round(layout: Layout, cfg: RoundConfig, completed: set[int]) -> int:
    """--round, else the lowest started round not finished, else the one after the last finished."""
    if cfg.round is not None:
        if cfg.round > 1 and cfg.round - 1 not in completed:
            raise ConfigError(f"round {cfg.round - 1} is not finished; run it first: python -m pipeline.round "
                              f"{layout.root} --round {cfg.round - 1}")
        return cfg.round
    started = sorted(int(p.name[6:]) for p in (layout.root / "rounds").glob("round_*") if p.name[6:].isdigit())
    unfinished = [k for k in started if k not in completed]
    return unfinished[0] if unfinished else max(completed, default=0) + 1


def trained(output_dir: Path) -> bool:
    """Training wrote its final state (trainer_state.json comes after the weights, at the very end)."""
    return (output_dir / "trainer_state.json").is_file() and \
        any(p.suffix in WEIGHT_SUFFIXES for p in output_dir.glob("*") if p.is_file())


def _command(template: str | None, subcommand: str, yaml_path: str) -> list[str]:
    return user_command(template, yaml_path) if template else lf_command(subcommand, yaml_path)


def _evaluate_split(layout: Layout, cfg: RoundConfig, plan: dict, n: int, split: str) -> str:
    out = layout.round_dir(n) / f"eval_{split}"
    if (out / "results.json").is_file():
        return "skipped"
    info = plan["predict"][split]
    root = layout.root
    systems = [SystemSpec("student", "predictions", str(root / info["output_dir"] / "generated_predictions.jsonl"))]
    previous_plan = layout.round_dir(n - 1) / "plan.json"
    if n > 1 and previous_plan.is_file():
        before = json.loads(previous_plan.read_text(encoding="utf-8"))["predict"].get(split)
        file = root / before["output_dir"] / "generated_predictions.jsonl" if before else None
        if before and before["references"] == info["references"] and file.is_file():   # same items, same order
            systems.append(SystemSpec("previous", "predictions", str(file)))
    mining = None
    if split == "val":      # val only: test is never mined
        mining = MineConfig(root, layout.mined_name(n), cfg.top_n, cfg.oversample, cfg.pass_score)
        older, newer = (root / f"{layout.mined_name(k)}_regression.json" for k in (n - 1, n))
        if n > 1 and older.is_file() and not newer.exists():   # the regression set grows round over round
            shutil.copyfile(older, newer)
    evaluate(EvalConfig(out, tuple(systems + list(cfg.systems)), references=root / info["references"], mine=mining,
                        mine_system="student" if mining else None, normalization=cfg.normalization))
    return "done"


def run_round(cfg: RoundConfig) -> dict:
    """Run (or continue) one round; returns its summary (``status``: done, or waiting for a handed-off step)."""
    layout = read_layout(cfg.dataset_dir)
    history = load_history(layout.history_path)
    n = pick_round(layout, cfg, {e["round"] for e in history})
    round_dir = layout.round_dir(n)
    summary = {"round": n, "dataset_dir": str(layout.root), "round_dir": str(round_dir), "steps": {},
               "status": "done", "history": str(layout.history_path),
               "report": str(layout.root / "rounds" / "report.html")}
    steps, seconds = summary["steps"], summary.setdefault("seconds", {})
    clock = [time.perf_counter()]

    def lap(step: str) -> None:      # where a round's time goes, per step (in the summary)
        now = time.perf_counter()
        seconds[step] = round(now - clock[0], 2)
        clock[0] = now

    finished = next((e for e in history if e["round"] == n), None)
    if finished is None:
        if (round_dir / "train.yaml").is_file() and (round_dir / "plan.json").is_file():
            plan, steps["yaml"] = json.loads((round_dir / "plan.json").read_text(encoding="utf-8")), "skipped"
        else:
            plan, steps["yaml"] = plan_round(layout, cfg, n), "done"
        lap("yaml")
        relative = f"rounds/round_{n}"
        steps["train"] = run_step("train", _command(cfg.train_cmd, "train", f"{relative}/train.yaml"), layout.root,
                                  round_dir, lambda: trained(layout.root / plan["output_dir"]), bool(cfg.train_cmd))
        lap("train")
        for split, info in plan["predict"].items():
            if "waiting" in steps.values():
                break
            predictions = layout.root / info["output_dir"] / "generated_predictions.jsonl"
            steps[f"predict_{split}"] = run_step(
                f"predict_{split}", _command(cfg.predict_cmd, "train", f"{relative}/predict_{split}.yaml"),
                layout.root, round_dir, predictions.is_file, bool(cfg.predict_cmd))
            lap(f"predict_{split}")
        if "waiting" in steps.values():
            step = next(k for k, v in steps.items() if v == "waiting")
            summary.update(status="waiting", waiting_for=step,
                           hint=f"{step} was handed to your launcher; rerun this command once its output is there "
                                f"(see {round_dir / (step + '.log')})")
            return summary
        for split in ("test", "val"):
            if split in plan["predict"]:
                steps[f"evaluate_{split}"] = _evaluate_split(layout, cfg, plan, n, split)
                lap(f"evaluate_{split}")
        regression = layout.root / f"{layout.mined_name(n - 1)}_regression.json"
        regression_ids = {r.get("id") for r in read_records(regression)} if n > 1 and regression.is_file() else set()
        finished = round_entry(layout.root, round_dir, plan, layout.round_dir(n - 1) if n > 1 else None,
                               cfg.pass_score, regression_ids)
        history = save_entry(layout.history_path, finished)
        steps["history"] = "done"
    else:
        steps.update(dict.fromkeys(("yaml", "train", "predict", "evaluate", "history"), "skipped"))
    write_report(layout.root / "rounds" / "report.html", history)
    summary.update(test=(finished.get("test") or {}).get("metrics"), val=(finished.get("val") or {}).get("metrics"),
                   val_seen_in_training=finished["plan"]["val_seen_in_training"],
                   regressions=finished["regressions"], adapter=finished["plan"]["output_dir"],
                   datasets=finished["plan"]["datasets"], cutoff_drops=finished["plan"]["cutoff_drops"])
    return summary
