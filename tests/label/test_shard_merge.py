"""Scale-out: --shard i/N splits a folder by document content; pipeline.merge joins the run folders."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.render.config import RenderConfig, RenderRunConfig
from pipeline.render.discover import file_sha256
from pipeline.label.sources import PageSources
from pipeline.label.stage import LabelConfig, label_pages
from pipeline.merge import merge_runs
from pipeline.records import BatchedRequest, BatchJob, LabelRecord
from pipeline.render.stage import render_folder
from pipeline.shard import Shard
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from pipeline.teachers import TeacherSettings, make_teacher
from tests.conftest import REPO_ROOT

SAMPLES = REPO_ROOT / "data" / "samples"
VOLATILE = {"updated_at", "seconds", "created_at"}      # when, not what


def distill_offline(pdf_dir: Path, run_dir: Path, shard: Shard | None = None) -> None:
    """Render + textlayer labels, in-process (what python -m pipeline.distill --shard i/N does)."""
    cfg = RenderRunConfig(pdf_dir=pdf_dir, run_dir=run_dir, render=RenderConfig(longest_side=256), shard=shard)
    with RunStore(run_dir) as store:
        render_folder(cfg, store, progress=False)
        with PageSources(cfg, store) as sources:
            label_pages(sources, LabelConfig(tasks=tuple(resolve_tasks(["content", "metadata"]))), store,
                        make_teacher("textlayer", TeacherSettings()), progress=False)


def snapshot(run_dir: Path) -> dict[str, list]:
    """Documents, paths, pages, labels and tasks as comparable rows (timings left out)."""
    with RunStore(run_dir) as store:
        out = {}
        for table, order in (("documents", "doc_id"), ("document_paths", "doc_id, path"),
                             ("pages", "doc_id, page_index"), ("labels", "request_key"), ("tasks", "prompt_hash")):
            rows = store.conn.execute(f"SELECT * FROM {table} ORDER BY {order}")
            out[table] = [{k: r[k] for k in r.keys() if k not in VOLATILE} for r in rows]
    return out


@pytest.fixture(scope="module")
def sharded(tmp_path_factory) -> dict[str, Path]:
    """data/samples plus a renamed copy, run once whole and once as two shards."""
    root = tmp_path_factory.mktemp("scaleout")
    shutil.copytree(SAMPLES, root / "in")
    shutil.copy(root / "in" / "invoice_en.pdf", root / "in" / "copy of invoice.pdf")
    runs = {"single": root / "single", "a": root / "shard1", "b": root / "shard2"}
    distill_offline(root / "in", runs["single"])
    distill_offline(root / "in", runs["a"], Shard(1, 2))
    distill_offline(root / "in", runs["b"], Shard(2, 2))
    return {**runs, "root": root}


def test_shards_are_disjoint_and_cover_every_document(sharded):
    single, a, b = (snapshot(sharded[k]) for k in ("single", "a", "b"))
    docs_a, docs_b = ({d["doc_id"] for d in s["documents"]} for s in (a, b))
    assert docs_a and docs_b and not docs_a & docs_b
    assert docs_a | docs_b == {d["doc_id"] for d in single["documents"]}
    # A renamed copy is the same document, in the same shard as the original.
    invoice = file_sha256(sharded["root"] / "in" / "invoice_en.pdf")
    owner = a if invoice in docs_a else b
    assert {p["path"] for p in owner["document_paths"] if p["doc_id"] == invoice} == \
        {"invoice_en.pdf", "copy of invoice.pdf"}
    assert all(Shard(1, 2).contains(d) for d in docs_a) and all(Shard(2, 2).contains(d) for d in docs_b)


def test_merged_shards_equal_the_single_run_and_merging_again_changes_nothing(sharded, tmp_path):
    merged = tmp_path / "merged"
    summary = merge_runs([sharded["a"], sharded["b"]], merged)
    assert summary.changed["labels"] > 0 and summary.images["linked"] + summary.images["copied"] > 0
    assert snapshot(merged) == snapshot(sharded["single"])
    with RunStore(merged) as store:
        assert all((merged / p.image_path).is_file() for p in store.iter_pages())

    again = merge_runs([sharded["b"], sharded["a"]], merged)      # another order, same sources
    assert sum(again.changed.values()) == 0 and snapshot(merged) == snapshot(sharded["single"])
    reversed_order = merge_runs([sharded["b"], sharded["a"]], tmp_path / "other")
    assert snapshot(tmp_path / "other") == snapshot(merged) and reversed_order.totals == summary.totals

    result = subprocess.run([sys.executable, "-m", "pipeline.build_dataset", str(merged), "--out",
                             str(tmp_path / "dataset"), "--no-validate", "--json"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "dataset" / "dataset_info.json").is_file()
    # The settings the pages were rendered with travel too: extract renders production pages the same way.
    render = json.loads((tmp_path / "dataset" / "manifest.json").read_text())["student"]["render"]
    assert render["settings"] is not None and render["settings"]["longest_side"] == 256
    assert summary.changed["render_settings"] == 1 and again.changed["render_settings"] == 0


def _label(key: str, outcome: str, created_at: float, raw: str = "") -> LabelRecord:
    return LabelRecord(request_key=key, doc_id="d" * 64, page_index=0, task="content", teacher="gemini",
                       model="m", prompt_hash="p", schema_hash="s", outcome=outcome, raw_text=raw,
                       label={"markdown": raw} if outcome == "ok" else None, created_at=created_at)


def test_label_conflicts_keep_ok_over_failed_then_the_newest(tmp_path):
    now = time.time()
    with RunStore(tmp_path / "x") as x, RunStore(tmp_path / "y") as y, x.transaction(), y.transaction():
        x.put_label(_label("k1", "ok", now - 100, "old ok"))
        y.put_label(_label("k1", "server_error", now))             # newer, but a failure: ok stays
        x.put_label(_label("k2", "server_error", now - 100))
        y.put_label(_label("k2", "rate_limited", now))             # two failures: the newest
        x.put_label(_label("k3", "ok", now - 100, "older"))
        y.put_label(_label("k3", "ok", now, "newer"))              # two answers: the newest
    with RunStore(tmp_path / "x") as x:                             # a batch job still pending in one shard
        x.ensure_batch_tables()
        x.record_batch_job(BatchJob("batch_1", "openai", "m", {}), [BatchedRequest("k4", "d" * 64, 0, "content", "p", "s")])
    for order in ([tmp_path / "x", tmp_path / "y"], [tmp_path / "y", tmp_path / "x"]):
        out = tmp_path / f"m{order[0].name}"
        merge_runs(order, out)
        with RunStore(out) as store:
            labels = {l.request_key: l for l in store.iter_labels()}
            assert store.batch_pending_keys() == {"k4"}                 # collectable from the merged folder
        assert (labels["k1"].raw_text, labels["k2"].outcome, labels["k3"].raw_text) == \
            ("old ok", "rate_limited", "newer")


def test_merge_refuses_what_is_not_a_run_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="not a docdistill run folder"):
        merge_runs([tmp_path / "empty"], tmp_path / "out")
    RunStore(tmp_path / "run").close()
    with pytest.raises(ConfigError, match="also a source"):
        merge_runs([tmp_path / "run"], tmp_path / "run")
    result = subprocess.run([sys.executable, "-m", "pipeline.merge", str(tmp_path / "empty"), "--out",
                             str(tmp_path / "out2"), "--json"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and "not a docdistill run folder" in result.stderr
    assert not (tmp_path / "out2").exists()
    result = subprocess.run([sys.executable, "-m", "pipeline.merge", str(tmp_path / "run"), "--out",
                             str(tmp_path / "out3"), "--json"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and json.loads(result.stdout)["totals"]["documents"] == 0


def test_shard_spec_is_checked():
    assert Shard.parse(" 3 / 4 ") == Shard(3, 4)
    for bad in ("4/3", "1/0", "x/2", "1-2"):
        with pytest.raises(ConfigError, match="--shard"):
            Shard.parse(bad)


def test_cli_shard_flag(tmp_path):
    def distill(*args):
        return subprocess.run([sys.executable, "-m", "pipeline.distill", str(SAMPLES), "--out", str(tmp_path / "r"),
                               "--render-only", "--json", "--longest-side", "128", *args], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=300)
    bad = distill("--shard", "3/2")
    assert bad.returncode == 2 and "--shard" in bad.stderr and not (tmp_path / "r").exists()
    result = distill("--shard", "1/2")
    assert result.returncode == 0, result.stderr
    outcomes = json.loads(result.stdout)["render"]["outcomes"]
    assert outcomes["ok"] + outcomes["other_shard"] == len(list(SAMPLES.glob("*.pdf"))) and outcomes["other_shard"]
