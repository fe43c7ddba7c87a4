"""--wandb: figures and a sample table logged offline (WANDB_MODE=offline), never a key or the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pipeline.errors import ConfigError
from pipeline.render.config import RenderConfig, RenderRunConfig
from pipeline.label.sources import PageSources
from pipeline.label.stage import LabelConfig, label_pages
from pipeline.render.stage import render_folder
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from pipeline.teachers import TeacherSettings, make_teacher
from pipeline.label.tracking import log_run, require_wandb
from tests.conftest import REPO_ROOT, make_pdf

SECRET = "sk-test-NEVER-LOGGED-71c2"


def test_missing_wandb_is_a_config_error_with_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)      # what `import wandb` sees when it is not installed
    with pytest.raises(ConfigError, match=r"docdistill\[wandb\]"):
        require_wandb()


def test_offline_run_logs_figures_and_samples_but_no_secret(tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="wandb is optional: pip install 'docdistill[wandb]' to run this test")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for var, folder in (("WANDB_DIR", "wb"), ("WANDB_DATA_DIR", "wb-data"), ("WANDB_CACHE_DIR", "wb-cache"),
                        ("WANDB_CONFIG_DIR", "wb-config")):  # every file wandb writes lands in tmp_path
        monkeypatch.setenv(var, str(tmp_path / folder))
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    make_pdf(tmp_path / "in" / "invoice.pdf", pages=2)
    cfg = RenderRunConfig(pdf_dir=tmp_path / "in", run_dir=tmp_path / "run", render=RenderConfig(longest_side=200))
    with RunStore(cfg.run_dir) as store:
        render_summary = render_folder(cfg, store, progress=False)
        with PageSources(cfg, store) as sources:
            label_summary = label_pages(sources, LabelConfig(tasks=tuple(resolve_tasks(["content", "metadata"]))),
                                        store, make_teacher("textlayer", TeacherSettings()), progress=False)
        run_dir = log_run("docdistill-test", store, {"render": render_summary.to_dict(),
                                                     "label": label_summary.to_dict()},
                          {"teacher": "textlayer", "tasks": ["content", "metadata"]})
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.parts[len(tmp_path.parts)].startswith("wb")]
    assert files and all(SECRET.encode() not in p.read_bytes() for p in files)
    assert not any(b"OPENAI_API_KEY" in p.read_bytes() for p in files)
    assert str(tmp_path / "wb") in run_dir
    # Offline, the figures are in the run's .wandb log (synced later); the sample table is a staged artifact.
    log = next(p for p in files if p.suffix == ".wandb").read_bytes()
    assert b"label/labels/content/ok" in log and b"store/labels/metadata/ok" in log
    staged = [json.loads(p.read_bytes()) for p in files if p.read_bytes()[:1] == b"{" and "staging" in str(p)]
    table = next(t for t in staged if t.get("_type") == "table")
    assert table["columns"][-2:] == ["image", "label"] and len(table["data"]) == 4
    assert {row[2] for row in table["data"]} == {"content", "metadata"}
    assert all(row[5]["_type"] == "image-file" for row in table["data"])
    assert json.loads(table["data"][0][-1])["markdown"]                   # the label JSON, as text
    assert any(p.read_bytes()[:2] == b"\xff\xd8" for p in files)          # the page images (JPEG) went with it


def test_cli_wandb_flag_offline_keeps_stdout_json(tmp_path):
    pytest.importorskip("wandb", reason="wandb is optional: pip install 'docdistill[wandb]' to run this test")
    make_pdf(tmp_path / "in" / "a.pdf")
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DATA_DIR": str(tmp_path / "wbd"),
           "WANDB_CACHE_DIR": str(tmp_path / "wbc"), "WANDB_CONFIG_DIR": str(tmp_path / "wbcfg")}
    env.pop("WANDB_DIR", None)
    result = subprocess.run([sys.executable, "-m", "pipeline.distill", str(tmp_path / "in"), "--out",
                             str(tmp_path / "run"), "--longest-side", "128", "--wandb", "docdistill-test", "--json",
                             "--no-progress", "--password", "hunter2-NOT-LOGGED"], cwd=REPO_ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["label"]["labels"] == {"content": {"ok": 1}, "metadata": {"ok": 1}}
    logged = [p for p in (tmp_path / "run" / "wandb").rglob("*") if p.is_file()]
    assert any(p.suffix == ".wandb" for p in logged)
    assert not any(b"hunter2-NOT-LOGGED" in p.read_bytes() for p in logged)   # not even the command line
