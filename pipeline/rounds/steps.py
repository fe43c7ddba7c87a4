"""The steps a round hands to another program: ``llamafactory-cli train`` or the user's launcher.

Each launch is recorded in ``round_N/<step>.json`` (command, pid, exit status) beside its log
(``round_N/<step>.log``, appended to, so an interrupted attempt's log stays). A step is done when its
output exists, whoever made it; a rerun then skips it. Otherwise:

- a launch whose process still runs (a round killed while its child went on) is waited for, never
  started twice on the same output folder;
- a user's launcher that returned 0 without the output (it queued a job: sbatch, a remote box) is
  not started again: the step waits, the command exits 1, a rerun picks the output up once it is there;
- anything else (no launch yet, a launch killed with the round) is launched (again).

The step runs in its own process group (its pid is in ``<step>.json``): a round killed outright
(SIGKILL, a closed SSH session) leaves its training running, and the rerun waits for it instead of
starting a second one on the same output folder. To stop the training too, kill that group
(``kill -- -PID``); the rerun then launches it again, and LLaMA-Factory resumes from the last
checkpoint in the round's own output folder (``overwrite_output_dir: false``). Ctrl-C reaches both.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pipeline.errors import StepFailed

POLL_S = 1.0


def alive(pid: int) -> bool:
    """Whether any process of the group ``pid`` leads still runs (zombies do not count)."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for stat in proc.glob("[0-9]*/stat"):    # a group of zombies is not running (exited, not yet reaped)
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[2] == str(pid) and fields[0] != "Z":
            return True
    return False


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write(path: Path, state: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def lf_command(subcommand: str, yaml_path: str) -> list[str]:
    """``llamafactory-cli SUB YAML`` with this interpreter (works without the venv on PATH)."""
    return [sys.executable, "-m", "llamafactory.cli", subcommand, yaml_path]


def user_command(template: str, yaml_path: str) -> list[str]:
    """A --train-cmd / --predict-cmd as a shell command, ``{yaml}`` replaced (else the YAML appended).

    >>> user_command("sbatch train.sh {yaml}", "rounds/round_1/train.yaml")[-1]
    'sbatch train.sh rounds/round_1/train.yaml'
    >>> user_command("torchrun -m llamafactory.launcher", "t.yaml")[-1]
    'torchrun -m llamafactory.launcher t.yaml'
    """
    command = template.replace("{yaml}", yaml_path) if "{yaml}" in template else f"{template} {yaml_path}"
    return ["/bin/sh", "-c", command]


def run_step(name: str, command: list[str], cwd: Path, state_dir: Path, done: Callable[[], bool],
             handed_off: bool) -> str:
    """'skipped' (output there before), 'done' (made now) or 'waiting' (handed off, output not there yet)."""
    if done():
        return "skipped"
    state_path, log_path = state_dir / f"{name}.json", state_dir / f"{name}.log"
    state = _read(state_path)
    if state.get("pid") and state.get("exit") is None and alive(state["pid"]):
        print(f"round: {name} is still running from an earlier attempt (pid {state['pid']}); waiting for it",
              file=sys.stderr)
        while alive(state["pid"]) and not done():
            time.sleep(POLL_S)
        if done():
            return "done"
        state = {}
    if handed_off and state.get("exit") == 0 and state.get("command") == command:
        return "waiting"
    env = {**os.environ, "DISABLE_VERSION_CHECK": os.environ.get("DISABLE_VERSION_CHECK", "1")}
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(command)}\n")
        log.flush()
        proc = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        _write(state_path, {"command": command, "pid": proc.pid, "started": time.time(), "exit": None})
        try:
            code = proc.wait()
        except KeyboardInterrupt:           # its own group: pass the Ctrl-C on, let it stop
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait()
            raise
    _write(state_path, {"command": command, "pid": proc.pid, "exit": code})
    if code != 0:
        raise StepFailed(f"{name} exited {code}: see {log_path} (rerun the same command once fixed; finished "
                         "steps are not redone)")
    if done():
        return "done"
    if handed_off:
        return "waiting"
    raise StepFailed(f"{name} exited 0 but its output is missing: see {log_path}")
