"""``python -m pipeline.round`` with cheap stand-ins for the GPU steps (tests/support/round_standin.py
behind --train-cmd / --predict-cmd: real subprocesses, real files where LLaMA-Factory writes them),
and the real evaluate and mining: the protocol, the resume after SIGKILL, the hand-off to a launcher.
The real llamafactory-cli runs in test_round_e2e.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pipeline.dataset.lengths import Lengths
from pipeline.evaluation.inputs import page_key
from tests.conftest import REPO_ROOT

STANDIN = REPO_ROOT / "tests" / "support" / "round_standin.py"
TRAIN_CMD = f"{sys.executable} {STANDIN} train"
PREDICT_CMD = f"{sys.executable} {STANDIN} predict"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """One small dataset (val + test) from the sample PDFs, built once, copied per test."""
    base = tmp_path_factory.mktemp("built")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    for cmd in ([sys.executable, "-m", "pipeline.distill", "data/samples", "--out", str(base / "run"), "--teacher",
                 "textlayer", "--longest-side", "256", "--no-progress"],
                [sys.executable, "-m", "pipeline.build_dataset", str(base / "run"), "--out", str(base / "ds"),
                 "--val-fraction", "0.35", "--test-fraction", "0.2", "--max-image-side", "128", "--no-validate"]):
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    return base / "ds"


@pytest.fixture
def ds(built, tmp_path) -> Path:
    return Path(shutil.copytree(built, tmp_path / "ds"))


def round_cmd(ds: Path, *extra: str, train_cmd: str = TRAIN_CMD) -> list[str]:
    return [sys.executable, "-m", "pipeline.round", str(ds), "--train-cmd", train_cmd, "--predict-cmd", PREDICT_CMD,
            "--json", *extra]


def env_for(tmp_path: Path, block: str | None = None) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "STANDIN_LOG": str(tmp_path / "calls.log")}
    if block:
        env.update(STANDIN_BLOCK=block, STANDIN_GATE=str(tmp_path / "gate"))
        (tmp_path / "gate").write_text("")
    return env


def run_round(ds: Path, env: dict, *extra: str, rc: int = 0, **kw) -> dict:
    proc = subprocess.run(round_cmd(ds, *extra, **kw), cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == rc, proc.stderr + proc.stdout
    return json.loads(proc.stdout.splitlines()[-1]) if proc.stdout.strip() else {"stderr": proc.stderr}


def calls(tmp_path: Path) -> list[str]:
    return [line.split()[0] for line in (tmp_path / "calls.log").read_text().splitlines()]


def wait_for(path: Path, proc: subprocess.Popen, limit_s: float = 240) -> None:
    deadline = time.monotonic() + limit_s
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


def pages(path: Path) -> set[str]:
    return {page_key(r["images"][0]) for r in json.loads(path.read_text())}


def test_two_rounds_follow_the_protocol(built, ds, tmp_path):
    env = env_for(tmp_path)
    teacher = f"teacher=run:{built.parent / 'run'}"                # the run the dataset was built from
    first = run_round(ds, env, "--system", teacher)
    second = run_round(ds, env, "--from-previous", "--system", teacher)
    assert (first["round"], second["round"]) == (1, 2)
    assert calls(tmp_path) == ["train", "predict_val", "predict_test"] * 2
    train1 = yaml.safe_load((ds / "rounds/round_1/train.yaml").read_text())
    train2 = yaml.safe_load((ds / "rounds/round_2/train.yaml").read_text())
    assert train1["output_dir"] == "saves/docdistill_r1" and train2["output_dir"] == "saves/docdistill_r2"
    assert train1["dataset"] == "docdistill_train" and train1["eval_dataset"] == "docdistill_val"
    assert train1["load_best_model_at_end"] is True and train1["metric_for_best_model"] == "eval_loss"
    # round 2: train + the mined sets, from round 1's adapter, val no longer its eval set (it was mined)
    assert train2["dataset"] == "docdistill_train,docdistill_mined_r1_hard,docdistill_mined_r1_regression"
    assert train2["adapter_name_or_path"] == "saves/docdistill_r1" and train2["overwrite_output_dir"] is False
    assert not {"eval_dataset", "load_best_model_at_end", "eval_strategy"} & set(train2)
    for n in (1, 2):
        for split in ("val", "test"):
            predict = yaml.safe_load((ds / f"rounds/round_{n}/predict_{split}.yaml").read_text())
            assert predict["adapter_name_or_path"] == f"saves/docdistill_r{n}"
            assert predict["eval_dataset"] == f"docdistill_{split}"
    # mined from val only; no test page in any training file
    test_pages = pages(ds / "docdistill_test.json")
    mined = [ds / f"docdistill_mined_r{n}_{kind}.json" for n in (1, 2) for kind in ("hard", "regression")]
    assert all(pages(f) <= pages(ds / "docdistill_val.json") for f in mined) and pages(mined[1])
    assert not any(pages(f) & test_pages for f in [ds / "docdistill_train.json", *mined])
    assert pages(mined[1]) <= pages(mined[3])           # the regression set only grows
    history = json.loads((ds / "rounds/history.json").read_text())["rounds"]
    assert [e["round"] for e in history] == [1, 2]
    assert [e["val"]["seen_in_training"] for e in history] == [False, True]
    assert history[1]["regression_set"]["items"] == len(json.loads(mined[1].read_text()))
    assert history[1]["regression_set"]["pass_rate"] is not None
    assert set(history[1]["test"]["systems"]) == {"student", "previous", "teacher"} and history[1]["test"]["metrics"]
    assert history[1]["test"]["systems"]["teacher"]["anls_star"] >= 0.99      # its own labels are the references
    report = (ds / "rounds/report.html").read_text()
    assert "teacher 1.000" in report
    assert report.count("<circle") == 2 and "seen in training" in report and "Regressions" in report
    # a finished round is never redone
    again = run_round(ds, env, "--round", "2")
    assert set(again["steps"].values()) == {"skipped"} and len(calls(tmp_path)) == 6


def _start_blocked(ds: Path, tmp_path: Path, step: str) -> subprocess.Popen:
    proc = subprocess.Popen(round_cmd(ds), cwd=REPO_ROOT, env=env_for(tmp_path, block=step),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(tmp_path / "gate.started", proc)
    return proc


def test_sigkill_during_training_then_rerun_resumes_at_training(ds, tmp_path):
    proc = _start_blocked(ds, tmp_path, "train")
    step_pid = json.loads((ds / "rounds/round_1/train.json").read_text())["pid"]
    proc.kill()                                     # SIGKILL: no handler runs
    proc.wait()
    os.killpg(step_pid, signal.SIGKILL)             # the machine lost: the launcher dies with it
    (tmp_path / "gate").unlink()
    summary = run_round(ds, env_for(tmp_path))
    assert summary["steps"]["yaml"] == "skipped" and summary["steps"]["train"] == "done"
    assert calls(tmp_path) == ["train", "train", "predict_val", "predict_test"]
    assert json.loads((ds / "rounds/history.json").read_text())["rounds"][0]["round"] == 1


def test_sigkill_during_evaluation_then_rerun_waits_for_the_running_step(ds, tmp_path):
    proc = _start_blocked(ds, tmp_path, "predict_test")
    proc.kill()                                     # the round dies; its predict run goes on in its own group
    proc.wait()
    rerun = subprocess.Popen(round_cmd(ds), cwd=REPO_ROOT, env=env_for(tmp_path), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    (tmp_path / "gate").unlink()                    # the orphaned predict run finishes; the rerun picks it up
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    steps = json.loads(out.splitlines()[-1])["steps"]
    assert steps["yaml"] == steps["train"] == steps["predict_val"] == "skipped"
    assert steps["predict_test"] in ("done", "skipped") and steps["evaluate_test"] == "done"
    assert calls(tmp_path) == ["train", "predict_val", "predict_test"]     # nothing started twice


def test_sigkill_inside_evaluate_reruns_only_the_unfinished_evaluation(ds, tmp_path):
    env = env_for(tmp_path)
    run_round(ds, env)
    # as if killed after evaluate_test, inside evaluate_val (its results.json, the step's output, not yet written)
    shutil.rmtree(ds / "rounds/round_1/eval_val")
    history = ds / "rounds/history.json"
    history.unlink()
    summary = run_round(ds, env)
    assert summary["round"] == 1 and summary["steps"]["evaluate_test"] == "skipped"
    assert summary["steps"]["evaluate_val"] == "done" and len(calls(tmp_path)) == 3
    assert json.loads(history.read_text())["rounds"][0]["val"]["mined"]["regression"] >= 1


def test_a_launcher_that_only_queues_the_job_is_picked_up_when_its_output_appears(ds, tmp_path):
    env = env_for(tmp_path)
    queued = f"echo queued >> {tmp_path / 'queue.log'}"           # like sbatch: returns at once, no output yet
    waiting = run_round(ds, env, train_cmd=queued, rc=1)
    assert waiting["status"] == "waiting" and waiting["waiting_for"] == "train"
    run_round(ds, env, train_cmd=queued, rc=1)                    # still not there: not queued again
    assert (tmp_path / "queue.log").read_text().count("queued") == 1
    subprocess.run([sys.executable, str(STANDIN), "train", "rounds/round_1/train.yaml"], cwd=ds, env=env, check=True)
    done = run_round(ds, env, train_cmd=queued)                   # the job's output arrived
    assert done["status"] == "done" and done["steps"]["train"] == "skipped"
    assert (tmp_path / "queue.log").read_text().count("queued") == 1


def test_records_over_the_rounds_cutoff_len_are_dropped_and_counted(ds, tmp_path):
    lengths = Lengths("gemma3")           # no model folder here: the template's constants and the byte estimate

    def tokens(split: str) -> list[int]:
        return sorted(lengths.sample_tokens(0, 0, r["conversations"][0]["value"].replace("<image>", ""),
                                            r["conversations"][1]["value"])
                      for r in json.loads((ds / f"docdistill_{split}.json").read_text()))

    records = json.loads((ds / "docdistill_train.json").read_text())
    cutoff = max(tokens(split)[0] for split in ("train", "val", "test"))    # every split keeps a record
    assert cutoff < tokens("train")[-1]
    summary = run_round(ds, env_for(tmp_path), "--set", f"cutoff_len={cutoff}")
    drops = summary["cutoff_drops"]
    assert 0 < drops["docdistill_train"] < len(records), drops
    train = yaml.safe_load((ds / "rounds/round_1/train.yaml").read_text())
    assert train["dataset"] == "docdistill_train_fit_r1" and train["cutoff_len"] == cutoff
    kept = json.loads((ds / "rounds/round_1/data/docdistill_train.json").read_text())
    assert len(kept) == len(records) - drops["docdistill_train"]
    assert json.loads((ds / "rounds/history.json").read_text())["rounds"][0]["plan"]["cutoff_drops"] == drops


def test_bad_requests_are_refused_before_any_work(ds, tmp_path):
    env = env_for(tmp_path)
    said = run_round(ds, env, "--round", "2", rc=2)["stderr"]
    assert "round 1 is not finished" in said
    said = run_round(ds, env, "--set", "output_dir=saves/x", rc=2)["stderr"]
    assert "output_dir" in said and "sets these itself" in said
    assert not (tmp_path / "calls.log").exists() and not (ds / "rounds").exists()


def test_a_test_page_in_a_training_set_stops_the_round(ds, tmp_path):
    env = env_for(tmp_path)
    run_round(ds, env)
    shutil.copyfile(ds / "docdistill_test.json", ds / "docdistill_mined_r1_hard.json")   # a hand edit gone wrong
    said = run_round(ds, env, rc=2)["stderr"]
    assert "test pages" in said and "never trained on" in said
    assert not (ds / "rounds/round_2/train.yaml").exists() and calls(tmp_path).count("train") == 1


def test_the_dataset_predict_yaml_targets_val_and_test_has_its_own(built):
    """build_dataset with --test-fraction: the documented predict -> evaluate --mine step mines val, not test."""
    predict = yaml.safe_load((built / "docdistill_predict.yaml").read_text())
    predict_test = yaml.safe_load((built / "docdistill_predict_test.yaml").read_text())
    assert predict["eval_dataset"] == "docdistill_val" and predict_test["eval_dataset"] == "docdistill_test"
    assert predict["output_dir"] != predict_test["output_dir"]
    assert "never --mine it" in (built / "docdistill_predict_test.yaml").read_text()
