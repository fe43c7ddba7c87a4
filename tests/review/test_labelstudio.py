"""Label Studio round trip through the CLI: export the queues as tasks with predictions, import annotations."""

from __future__ import annotations

import json
import subprocess
import sys

from pipeline.store import RunStore
from tests.conftest import REPO_ROOT
from tests.support.review_fixtures import make_review_run


def review_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.review", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300)


def test_export_then_import_label_studio(tmp_path):
    run, pdfs = make_review_run(tmp_path)
    exported = tmp_path / "ls_tasks.json"
    done = review_cli(str(run), "--reviewer", "ls-team", "--pdf-dir", str(pdfs), "--export-label-studio", str(exported))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["exported"] == 5
    tasks = json.loads(exported.read_text())
    assert all(t["data"]["image"].startswith("/data/local-files/?d=images") for t in tasks)
    by_queue = {t["data"]["docdistill"]["queue"]: t for t in tasks}
    manual = by_queue["manual"]
    assert manual["predictions"][0]["model_version"] == "prefill:textlayer/pymupdf-textlayer-1"

    # what Label Studio's JSON export gives back: annotations on the tasks
    label = json.loads(manual["predictions"][0]["result"][0]["value"]["text"][0])
    label["markdown"] = "# Patient record 7"
    manual["annotations"] = [{"result": [{"from_name": "label_json", "to_name": "image", "type": "textarea",
                                          "value": {"text": [json.dumps(label)]}}], "was_cancelled": False}]
    by_queue["invalid"]["annotations"] = [{"result": [], "was_cancelled": True}]
    by_queue["sample"]["annotations"] = [{"result": [{"from_name": "label_json", "value": {"text": ["{not json"]}}]}]
    back = tmp_path / "ls_export.json"
    back.write_text(json.dumps(tasks))
    done = review_cli(str(run), "--reviewer", "ls-team", "--import-label-studio", str(back))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"imported": 2, "outcomes": {"edit": 1, "reject": 1, "annotation_not_json": 1,
                                                                   "not_a_reviewed_docdistill_task": 2}}
    with RunStore(run, read_only=True) as store:
        rows = [dict(r) for r in store.iter_verdicts()]
    assert sorted((r["verdict"], r["reviewer"]) for r in rows) == [("edit", "ls-team"), ("reject", "ls-team")]
    assert json.loads(next(r for r in rows if r["verdict"] == "edit")["label_after"])["markdown"] == "# Patient record 7"


def test_a_bad_run_folder_is_a_configuration_error(tmp_path):
    done = review_cli(str(tmp_path), "--export-label-studio", str(tmp_path / "x.json"))
    assert done.returncode == 2 and "not a docdistill run folder" in done.stderr
