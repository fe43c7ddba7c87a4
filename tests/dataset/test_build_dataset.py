"""build_dataset: document-level split, near-duplicates together, records, dataset_info merge, YAML."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pymupdf
import pytest
import yaml

from pipeline.render.config import RenderConfig, RenderRunConfig
from pipeline.records import LabelRecord, PageStatus
from pipeline.render.stage import render_folder
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from tests.conftest import REPO_ROOT, make_pdf


WORDS = ("contract invoice payment tenant premium clause annex ledger audit balance deposit policy "
         "claim ruling registry seal notary witness schedule amount").split()


def make_text_pdf(path: Path, pages: int, seed: int) -> Path:
    """Pages full of different paragraphs, laid out differently: distinct page images per document."""
    rng = random.Random(seed)
    doc = pymupdf.open()
    for _ in range(pages):
        page = doc.new_page()
        y = 60 + rng.randint(0, 120)
        while y < 760:
            height, size, left = rng.randint(40, 140), rng.choice((9, 11, 14)), 60 + rng.randint(0, 80)
            words = int(height / (size * 1.6) - 1) * int((540 - left) / (size * 5))  # what fits in the box
            text = " ".join(rng.choice(WORDS) for _ in range(words))
            assert page.insert_textbox(pymupdf.Rect(left, y, 540, y + height), text, fontsize=size) >= 0
            y += height + rng.randint(10, 60)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path)
    return path


def label_run(run_dir: Path, markdown=lambda page: f"# Page {page.page_index + 1}") -> None:
    """Store a valid content label for every rendered page (as a teacher would)."""
    (task,) = resolve_tasks(["content"])
    with RunStore(run_dir) as store, store.transaction():
        store.put_task(task.name, task.prompt_hash, task.schema_hash, task.student_prompt, task.teacher_template,
                       task.model.model_json_schema())
        for page in store.iter_pages(PageStatus.RENDERED):
            label = {"languages": ["en"], "direction": "ltr", "page_number": None, "has_tables": False,
                     "has_handwriting": False, "elements": [], "markdown": markdown(page)}
            store.put_label(LabelRecord(f"{page.doc_id}{page.page_index}", page.doc_id, page.page_index,
                                        "content", "stub", "m", task.prompt_hash, task.schema_hash, "ok",
                                        label=label, created_at=time.time()))


def make_run(tmp_path: Path, pdf_dir: Path, **kw) -> Path:
    cfg = RenderRunConfig(pdf_dir=pdf_dir, run_dir=tmp_path / "run", render=RenderConfig(longest_side=160), **kw)
    with RunStore(cfg.run_dir) as store:
        render_folder(cfg, store, progress=False)
    label_run(cfg.run_dir, **({} if "markdown" not in kw else {}))
    return cfg.run_dir


def build(run_dir: Path, out: Path, *args: str, validate: bool = False) -> subprocess.CompletedProcess:
    # Validation imports LLaMA-Factory (~12 s) when installed: only the test about it pays for that.
    flags = () if validate else ("--no-validate",)
    return subprocess.run([sys.executable, "-m", "pipeline.build_dataset", str(run_dir), "--out", str(out),
                           "--json", *flags, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


def records_by_split(out: Path, name: str = "docdistill") -> dict[str, list[dict]]:
    return {split: json.loads((out / f"{name}_{split}.json").read_text())
            for split in ("train", "val", "test") if (out / f"{name}_{split}.json").exists()}


def doc_of(record: dict) -> str:
    """The document (first 16 hex of its hash) a record's image comes from: images/ab/<doc16>_p0001.jpg."""
    return record["images"][0].rsplit("/", 1)[1].split("_")[0]


def test_split_is_by_document_deterministic_and_leak_free(tmp_path):
    for i in range(12):
        make_text_pdf(tmp_path / "in" / f"doc{i:02d}.pdf", pages=3, seed=i)
    run_dir = make_run(tmp_path, tmp_path / "in")
    result = build(run_dir, tmp_path / "ds", "--val-fraction", "0.25", "--seed", "7")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    splits = records_by_split(tmp_path / "ds")
    docs = {split: {doc_of(r) for r in records} for split, records in splits.items()}
    assert docs["train"].isdisjoint(docs["val"]) and len(docs["val"]) == 3 and len(docs["train"]) == 9
    assert summary["leakage"] == {"documents_in_several_splits": 0, "near_duplicate_pairs_across_splits": 0,
                                  "near_duplicate_groups": 0}
    assert summary["splits"]["val"]["records"] == 9 and summary["splits"]["train"]["documents"] == 9
    again = build(run_dir, tmp_path / "ds2", "--val-fraction", "0.25", "--seed", "7")
    assert records_by_split(tmp_path / "ds2") == splits  # same seed, same split
    record = splits["train"][0]
    assert record["conversations"][0]["value"].startswith("<image>")
    assert json.loads(record["conversations"][1]["value"])["markdown"].startswith("# Page")
    assert (tmp_path / "ds" / record["images"][0]).is_file()
    assert json.loads(again.stdout)["leakage"]["documents_in_several_splits"] == 0


def test_near_duplicate_documents_land_in_the_same_split(tmp_path):
    for i in range(8):
        make_text_pdf(tmp_path / "in" / f"doc{i}.pdf", pages=2, seed=100 + i)
    original = tmp_path / "in" / "doc3.pdf"
    with pymupdf.open(original) as doc:  # the same pages, other bytes (a re-save with new metadata)
        doc.set_metadata({"title": "re-exported copy"})
        doc.save(tmp_path / "in" / "copy of doc3 (final).pdf")
    run_dir = make_run(tmp_path, tmp_path / "in")
    for seed in range(6):
        out = tmp_path / f"ds{seed}"
        summary = json.loads(build(run_dir, out, "--val-fraction", "0.3", "--seed", str(seed)).stdout)
        assert summary["leakage"]["near_duplicate_groups"] == 1
        assert summary["leakage"]["near_duplicate_pairs_across_splits"] == 0
        where = defaultdict(set)
        with RunStore(run_dir) as store:
            names = {d["doc_id"][:16]: d["path"] for d in store.documents()}
        for split, records in records_by_split(out).items():
            for r in records:
                where[names[doc_of(r)]].add(split)
        assert where["doc3.pdf"] == where["copy of doc3 (final).pdf"] and len(where["doc3.pdf"]) == 1


def test_explicit_val_pdfs_and_unknown_names(tmp_path):
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        make_pdf(tmp_path / "in" / name, text=name * 5)
    run_dir = make_run(tmp_path, tmp_path / "in")
    summary = json.loads(build(run_dir, tmp_path / "ds", "--val-pdfs", "b.pdf").stdout)
    assert summary["splits"]["val"]["documents"] == 1 and summary["splits"]["train"]["documents"] == 2
    bad = build(run_dir, tmp_path / "ds", "--val-pdfs", "nope.pdf")
    assert bad.returncode == 2 and "nope.pdf" in bad.stderr


def test_media_tags_long_samples_and_dataset_info_merge(tmp_path):
    make_pdf(tmp_path / "in" / "a.pdf", pages=4)
    run_dir = make_run(tmp_path, tmp_path / "in")
    with RunStore(run_dir) as store, store.transaction():  # one label quotes the tag, one is huge
        labels = list(store.iter_labels())
        labels[0].label["markdown"] = "see <image> and <video>"
        labels[1].label["markdown"] = "x" * 60_000
        for label in labels[:2]:
            store.put_label(label)
    out = tmp_path / "ds"
    out.mkdir()
    (out / "dataset_info.json").write_text(json.dumps({"alpaca_en": {"file_name": "alpaca.json"}}))
    summary = json.loads(build(run_dir, out, "--val-fraction", "0").stdout)
    assert summary["dropped"] == {"too_long_for_cutoff_len": 1}
    info = json.loads((out / "dataset_info.json").read_text())
    assert info["alpaca_en"] == {"file_name": "alpaca.json"}  # foreign entries survive
    assert info["docdistill_train"]["formatting"] == "sharegpt" and "docdistill_content_train" in info
    answers = [r["conversations"][1]["value"] for r in records_by_split(out)["train"]]
    assert all("<image>" not in a and "<video>" not in a for a in answers)
    assert any(json.loads(a)["markdown"] == "see <image> and <video>" for a in answers)


def test_generated_yaml_is_flat_and_refuses_known_crashers(tmp_path):
    make_pdf(tmp_path / "in" / "a.pdf", text="alpha")
    make_pdf(tmp_path / "in" / "b.pdf", text="beta beta beta")
    run_dir = make_run(tmp_path, tmp_path / "in")
    result = build(run_dir, tmp_path / "ds", "--val-fraction", "0.5", "--preset", "receipts",
                   "--set", "num_train_epochs=2")
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "ds" / "docdistill.yaml").read_text()
    config = yaml.safe_load(text)
    assert all(not isinstance(v, dict) for v in config.values())
    assert config["lora_rank"] == 8 and config["lora_alpha"] == 16 and config["num_train_epochs"] == 2
    assert config["dataset"] == "docdistill_train" and config["eval_dataset"] == "docdistill_val"
    assert "base" not in config and "image_do_pan_and_scan" not in config
    assert "# bf16 needs a GPU" in text and "### method" in text
    predict = yaml.safe_load((tmp_path / "ds" / "docdistill_predict.yaml").read_text())
    assert predict["do_predict"] and predict["adapter_name_or_path"] == config["output_dir"]
    bad = build(run_dir, tmp_path / "ds", "--set", "image_do_pan_and_scan=true")
    assert bad.returncode == 2 and "image_do_pan_and_scan" in bad.stderr
    bad = build(run_dir, tmp_path / "ds", "--preset", "nope")
    assert bad.returncode == 2 and "gemma3" in bad.stderr


def test_no_document_in_two_splits_on_the_corpus(corpus_pdfs, corpus_manifest, tmp_path):
    passwords = {e["file"]: e["password"] for e in corpus_manifest if e["password"]}
    run_dir = make_run(tmp_path, corpus_pdfs, passwords_by_name=passwords, workers=2)
    summary = json.loads(build(run_dir, tmp_path / "ds", "--val-fraction", "0.2", "--test-fraction", "0.1").stdout)
    splits = {split: {doc_of(r) for r in records} for split, records in records_by_split(tmp_path / "ds").items()}
    assert set(splits) == {"train", "val", "test"}
    assert not (splits["train"] & splits["val"] or splits["train"] & splits["test"] or splits["val"] & splits["test"])
    assert summary["leakage"]["near_duplicate_pairs_across_splits"] == 0


@pytest.mark.slow
def test_llamafactory_rejects_a_typo_before_anything_is_written(tmp_path):
    pytest.importorskip("llamafactory", reason="install the train extra: pip install -e '.[train]'")
    make_pdf(tmp_path / "in" / "a.pdf", text="alpha")
    make_pdf(tmp_path / "in" / "b.pdf", text="beta beta")
    run_dir = make_run(tmp_path, tmp_path / "in")
    bad = build(run_dir, tmp_path / "ds", "--set", "lora_rnak=8", validate=True)
    assert bad.returncode == 2 and "lora_rnak" in bad.stderr and not (tmp_path / "ds").exists()
    good = build(run_dir, tmp_path / "ds", "--val-fraction", "0.5", "--deepspeed", "3", validate=True)
    assert good.returncode == 0, good.stderr
    summary = json.loads(good.stdout)
    assert summary["validation"].startswith("validated by LLaMA-Factory 0.9.5")
    from pipeline.build_dataset import format_summary   # validation is timed apart from writing the dataset

    assert summary["validation_seconds"] > 0
    assert f"LLaMA-Factory validation {summary['validation_seconds']:.1f}s" in format_summary(summary)
    assert set(summary["yaml"]) == {"train", "predict", "export", "api", "deepspeed"}
    from pipeline.dataset.lf_validate import ValidationFailed, validate

    export = yaml.safe_load((tmp_path / "ds" / "docdistill_export.yaml").read_text())
    assert validate(export, "infer").startswith("validated")
    with pytest.raises(ValidationFailed, match="export_sizee"):  # the export/api side has its own parser
        validate({**export, "export_sizee": 3}, "infer")


def test_export_api_and_deepspeed_files(tmp_path):
    make_pdf(tmp_path / "in" / "a.pdf", text="alpha")
    make_pdf(tmp_path / "in" / "b.pdf", text="beta beta")
    run_dir = make_run(tmp_path, tmp_path / "in")
    result = build(run_dir, tmp_path / "ds", "--val-fraction", "0.5", "--preset", "gemma3-qlora-all",
                   "--deepspeed", "2")
    assert result.returncode == 0, result.stderr
    train = yaml.safe_load((tmp_path / "ds" / "docdistill.yaml").read_text())
    export = yaml.safe_load((tmp_path / "ds" / "docdistill_export.yaml").read_text())
    api_text = (tmp_path / "ds" / "docdistill_api.yaml").read_text()
    api = yaml.safe_load(api_text)
    assert export["adapter_name_or_path"] == api["adapter_name_or_path"] == train["output_dir"]
    assert export["export_dir"] == f"{train['output_dir']}/merged" and "quantization_bit" not in export
    assert api["quantization_bit"] == 4 and api["template"] == "gemma3" and "llamafactory-cli api" in api_text
    ds = json.loads((tmp_path / "ds" / train["deepspeed"]).read_text())   # relative to the dataset folder
    assert train["deepspeed"].endswith("ds_z2_config.json") and ds["zero_optimization"]["stage"] == 2
    assert "deepspeed" not in yaml.safe_load((tmp_path / "ds" / "docdistill_predict.yaml").read_text())


def test_out_that_cannot_be_a_folder_is_a_configuration_error(tmp_path, capsys):
    from pipeline import build_dataset

    make_pdf(tmp_path / "in" / "a.pdf")
    run_dir = make_run(tmp_path, tmp_path / "in")
    (tmp_path / "taken").write_text("not a folder")
    for out, said in ((tmp_path / "taken", "is a file, not a folder"),
                      (tmp_path / "taken" / "ds", "taken is a file, not a folder")):
        assert build_dataset.main([str(run_dir), "--out", str(out), "--no-validate"]) == 2
        assert said in capsys.readouterr().err


def test_nothing_to_build_fails_before_the_slow_validation(tmp_path, capsys, monkeypatch):
    from pipeline import build_dataset

    make_pdf(tmp_path / "in" / "a.pdf")
    cfg = RenderRunConfig(pdf_dir=tmp_path / "in", run_dir=tmp_path / "run", render=RenderConfig(longest_side=160))
    with RunStore(cfg.run_dir) as store:
        render_folder(cfg, store, progress=False)          # rendered, never labelled

    def validate(*_):
        raise AssertionError("LLaMA-Factory validation ran with nothing to build")
    monkeypatch.setattr(build_dataset, "validate", validate)
    assert build_dataset.main([str(cfg.run_dir), "--out", str(tmp_path / "ds")]) == 2
    err = capsys.readouterr().err
    assert f"nothing to build: {cfg.run_dir} has no valid label (labels: none)" in err
    assert not (tmp_path / "ds").exists()


def test_dataset_folder_trains_wherever_it_is_copied(tmp_path):
    import shutil

    make_pdf(tmp_path / "in" / "a.pdf", text="alpha")
    make_pdf(tmp_path / "in" / "b.pdf", text="beta beta")
    run_dir = make_run(tmp_path, tmp_path / "in")
    result = build(run_dir, tmp_path / "ds", "--val-fraction", "0.5", "--deepspeed", "2")
    assert result.returncode == 0, result.stderr
    moved = Path(shutil.copytree(tmp_path / "ds", tmp_path / "elsewhere" / "ds"))
    shutil.rmtree(tmp_path / "ds")
    for name in ("docdistill.yaml", "docdistill_predict.yaml", "docdistill_export.yaml", "docdistill_api.yaml"):
        text = (moved / name).read_text()
        config = yaml.safe_load(text)
        paths = [v for k, v in config.items() if k.endswith(("_dir", "_path", "deepspeed")) and k != "model_name_or_path"]
        assert paths and not [p for p in paths if Path(str(p)).is_absolute()], (name, paths)
        assert "# Run it from inside this folder" in text and "llamafactory-cli" in text
    train = yaml.safe_load((moved / "docdistill.yaml").read_text())
    assert train["dataset_dir"] == "." and train["output_dir"] == "saves/docdistill"
    assert train["report_to"] == "none" and train["warmup_steps"] == 0.1 and "warmup_ratio" not in train
    # What llamafactory-cli resolves from inside the folder: dataset_info entries, their records' images, deepspeed.
    data_dir = moved / train["dataset_dir"]
    info = json.loads((data_dir / "dataset_info.json").read_text())
    for dataset in (train["dataset"], train["eval_dataset"]):
        records = json.loads((data_dir / info[dataset]["file_name"]).read_text())
        assert records and all((data_dir / image).is_file() for r in records for image in r["images"])
    assert json.loads((moved / train["deepspeed"]).read_text())["zero_optimization"]["stage"] == 2
    wandb = build(run_dir, tmp_path / "ds2", "--val-fraction", "0.5", "--report-to", "wandb")
    assert wandb.returncode == 0 and yaml.safe_load((tmp_path / "ds2" / "docdistill.yaml").read_text())[
        "report_to"] == "wandb"
