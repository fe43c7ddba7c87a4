"""A run store that cannot be written: the cause is named, nothing is advised that loses labels, the
file is left as it was, and build_dataset / evaluate read the run where it is (read-only).

Tests run as root, and root writes through file modes. So the read-only cases are made for real:
a read-only bind mount (EROFS) where this machine allows mounting, and the run folder read by an
unprivileged user (EACCES) where the tests run as root and can drop to one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pipeline.evaluation.systems import run_predictions
from pipeline.label.sources import PageSources
from pipeline.label.stage import LabelConfig, label_pages
from pipeline.render.config import RenderConfig, RenderRunConfig
from pipeline.render.stage import render_folder
from pipeline.store import STORE_FILENAME, RunStore, StoreError
from pipeline.tasks import resolve_tasks
from pipeline.teachers import TeacherSettings, make_teacher
from tests.conftest import REPO_ROOT, make_pdf

NOBODY = 65534


def labelled_run(root: Path) -> RenderRunConfig:
    """A real run folder: one PDF rendered and labelled by the offline teacher (content + metadata)."""
    make_pdf(root / "in" / "invoice.pdf", pages=2)
    cfg = RenderRunConfig(pdf_dir=root / "in", run_dir=root / "run", render=RenderConfig(longest_side=160))
    with RunStore(cfg.run_dir) as store:
        render_folder(cfg, store, progress=False)
        with PageSources(cfg, store) as sources:
            label_pages(sources, LabelConfig(tasks=tuple(resolve_tasks(["content", "metadata"]))), store,
                        make_teacher("textlayer", TeacherSettings()), progress=False)
    return cfg


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def as_user(uid: int | None) -> list[str]:
    """The command prefix that runs a command as ``uid`` (util-linux setpriv: no capabilities left)."""
    return [] if uid is None else ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


def cli(module: str, *args: str, user: int | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*as_user(user), sys.executable, "-m", module, *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


def assert_never_advises_deleting(message: str) -> None:
    assert "delete" not in message.lower() and "remove" not in message.lower(), message


@pytest.fixture
def read_only_mount(tmp_path):
    """mount(ro_view) -> the folder seen through a read-only bind mount (unmounted afterwards)."""
    mounted = []

    def mount(folder: Path) -> Path:
        view = tmp_path / f"ro_{folder.name}"
        view.mkdir()
        done = subprocess.run(["mount", "--bind", str(folder), str(view)], capture_output=True, text=True)
        if done.returncode == 0:
            mounted.append(view)
            done = subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot make a read-only bind mount here ({done.stderr.strip() or 'mount failed'}); "
                        "the unprivileged-user test covers the permission case")
        return view

    yield mount
    for view in reversed(mounted):
        subprocess.run(["umount", str(view)], check=True)


def test_a_run_on_read_only_media_is_named_so_kept_and_still_readable(tmp_path, read_only_mount):
    cfg = labelled_run(tmp_path)
    before = sha256(cfg.run_dir / STORE_FILENAME)
    view = read_only_mount(cfg.run_dir)
    with pytest.raises(OSError):               # the mount really refuses writes, root or not
        (view / "probe").write_text("x")

    distill = cli("pipeline.distill", str(cfg.pdf_dir), "--out", str(view), "--no-progress")
    assert distill.returncode == 2, distill.stderr
    assert "read-only file system" in distill.stderr and "Traceback" not in distill.stderr
    assert "readable where it is" in distill.stderr
    assert_never_advises_deleting(distill.stderr)

    out = tmp_path / "dataset"
    build = cli("pipeline.build_dataset", str(view), "--out", str(out), "--no-validate", "--json")
    assert build.returncode == 0, build.stderr
    assert len(json.loads((out / "docdistill_train.json").read_text())) == 4   # 2 pages x 2 tasks

    predictions = run_predictions(view)              # evaluate's NAME=run:RUN_DIR system
    assert len(predictions) == 4 and all(predictions.values())
    assert sha256(cfg.run_dir / STORE_FILENAME) == before
    assert sorted(p.name for p in cfg.run_dir.iterdir()) == ["images", STORE_FILENAME]   # nothing created


def test_unwritable_log_with_unsaved_writes_is_refused_on_read_only_media(tmp_path, read_only_mount):
    """A store whose write-ahead log still holds commits cannot be read as immutable: it would miss them."""
    cfg = labelled_run(tmp_path)
    killed = subprocess.run([sys.executable, "-c", "import os, sys; from pipeline.store import RunStore; "
                             "s = RunStore(sys.argv[1]); s.set_meta('note', 'committed, not checkpointed'); "
                             "os._exit(0)", str(cfg.run_dir)], cwd=REPO_ROOT, capture_output=True, text=True)
    assert killed.returncode == 0, killed.stderr
    assert (cfg.run_dir / f"{STORE_FILENAME}-wal").stat().st_size > 0
    (cfg.run_dir / f"{STORE_FILENAME}-shm").unlink()   # as after a copy that left the index behind
    view = read_only_mount(cfg.run_dir)
    with pytest.raises(StoreError, match="write-ahead log run.sqlite-wal holds writes not yet in the file") as err:
        RunStore(view, read_only=True)
    assert_never_advises_deleting(str(err.value))
    with RunStore(cfg.run_dir, read_only=True) as store:      # where SQLite may keep its index: read fine
        assert store.get_meta("note") == "committed, not checkpointed"


@pytest.fixture
def world_readable_dir():
    """A folder an unprivileged user can reach (pytest's tmp_path is private to root)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as an unprivileged user (as a normal user, chmod alone makes the case)")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed: cannot run a command as an unprivileged user")
    probe = subprocess.run([*as_user(NOBODY), sys.executable, "-c", "import pipeline.distill"], cwd=REPO_ROOT,
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"the unprivileged user cannot run the checkout's Python ({probe.stderr.strip()[-200:]})")
    folder = Path(tempfile.mkdtemp(prefix="docdistill-perm-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def test_a_run_folder_this_user_may_not_write_is_named_so_and_still_readable(world_readable_dir):
    cfg = labelled_run(world_readable_dir)
    for path in [*cfg.run_dir.rglob("*"), world_readable_dir / "in", *cfg.pdf_dir.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    cfg.run_dir.chmod(0o555)
    (cfg.run_dir / STORE_FILENAME).chmod(0o444)
    before = sha256(cfg.run_dir / STORE_FILENAME)

    distill = cli("pipeline.distill", str(cfg.pdf_dir), "--out", str(cfg.run_dir), "--no-progress", user=NOBODY)
    assert distill.returncode == 2, distill.stderr
    assert "permission denied" in distill.stderr and "Traceback" not in distill.stderr
    assert_never_advises_deleting(distill.stderr)

    out = world_readable_dir / "dataset"
    out.mkdir(mode=0o777)
    out.chmod(0o777)
    build = cli("pipeline.build_dataset", str(cfg.run_dir), "--out", str(out), "--no-validate", user=NOBODY)
    assert build.returncode == 0, build.stderr
    assert sha256(cfg.run_dir / STORE_FILENAME) == before


@pytest.mark.parametrize("read_only", [False, True])
def test_what_is_not_a_run_store_is_named_and_left_alone(tmp_path, read_only):
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / STORE_FILENAME).write_text("my notes, not a database\n")
    with pytest.raises(StoreError, match="is not an SQLite database, so not a docdistill run store") as err:
        RunStore(tmp_path / "text", read_only=read_only)
    assert_never_advises_deleting(str(err.value))
    assert (tmp_path / "text" / STORE_FILENAME).read_text() == "my notes, not a database\n"

    (tmp_path / "folder" / STORE_FILENAME).mkdir(parents=True)
    with pytest.raises(StoreError, match="is a folder, not a run store file"):
        RunStore(tmp_path / "folder", read_only=read_only)

    other = tmp_path / "other" / STORE_FILENAME
    other.parent.mkdir()
    sqlite3.connect(other).execute("CREATE TABLE notes (t TEXT)").connection.close()
    if read_only:        # read-write opening adds the run store's tables, as it always has
        with pytest.raises(StoreError, match="an SQLite database but not a docdistill run store"):
            RunStore(other.parent, read_only=True)


@pytest.mark.parametrize("read_only", [False, True])
def test_a_store_from_a_newer_docdistill_is_left_unchanged(tmp_path, read_only):
    with RunStore(tmp_path) as store, store.transaction():
        store.set_meta("schema_version", "99")
    before = sha256(tmp_path / STORE_FILENAME)
    with pytest.raises(StoreError, match=r"newer docdistill \(store schema 99 > 1\); upgrade") as err:
        RunStore(tmp_path, read_only=read_only)
    assert_never_advises_deleting(str(err.value))
    assert sha256(tmp_path / STORE_FILENAME) == before


def test_read_only_opening_writes_nothing_and_refuses_writes(tmp_path):
    cfg = labelled_run(tmp_path)
    before = sha256(cfg.run_dir / STORE_FILENAME)
    with RunStore(cfg.run_dir, read_only=True) as store:
        assert sum(store.count_labels().values()) == 4
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            with store.transaction():
                store.set_meta("x", "y")
    assert sha256(cfg.run_dir / STORE_FILENAME) == before
    with pytest.raises(StoreError, match="no run store at"):
        RunStore(tmp_path / "nowhere", read_only=True)
    assert not (tmp_path / "nowhere").exists()


def test_a_run_folder_that_cannot_be_created_is_named(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot create the run folder .*file"):
        RunStore(tmp_path / "file" / "run")
