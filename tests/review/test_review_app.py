"""The review app over HTTP (Starlette's TestClient against the real app and a real run store)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from starlette.testclient import TestClient

from pipeline.review.setup import ReviewConfig, review_app
from pipeline.store import RunStore
from tests.conftest import REPO_ROOT
from tests.support.review_fixtures import ARABIC, make_review_run


@pytest.fixture
def review(tmp_path):
    run, pdfs = make_review_run(tmp_path)
    app, token, counts = review_app(ReviewConfig(run, "amira", pdf_dir=pdfs))
    client = TestClient(app, base_url="http://127.0.0.1", headers={"X-Review-Token": token})
    client.cookies.set("docdistill_review", token)
    return client, token, counts, run


def item(client, queue, after=-1):
    response = client.get("/api/item", params={"queue": queue, "after": after})
    assert response.status_code == 200, response.text
    return response.json()["item"]


def verdict(client, found, kind, **body):
    return client.post("/api/verdict", json={"queue": found["queue"], "position": found["position"], "verdict": kind,
                                             "revision": found["revision"], **body})


def test_queues_sort_the_run(review):
    client, _, counts, _ = review
    assert counts == {"invalid": 1, "foreign_script": 0, "disagreement": 0, "mined": 0, "sample": 3, "manual": 1}
    invalid = item(client, "invalid")
    assert invalid["label"] == {"languages": ["en"], "direction": "sideways"}    # salvaged from the failed answer
    assert invalid["source"].startswith("salvaged") and "direction" in invalid["why"]
    manual = item(client, "manual")
    assert manual["why"] == "held back by the privacy gate (health)"
    assert manual["source"] == "prefill:textlayer/pymupdf-textlayer-1"          # the offline teacher, via the registry
    assert "Patient record 7" in manual["label"]["markdown"]
    assert manual["schema"]["properties"]["markdown"]


def test_a_tampered_token_gets_403_and_another_host_is_refused(review):
    client, token, _, _ = review
    bare = TestClient(client.app, base_url="http://127.0.0.1")
    assert bare.get("/").status_code == 403
    assert bare.get("/", params={"token": token[:-1] + ("x" if token[-1] != "x" else "y")}).status_code == 403
    assert bare.get("/api/item", params={"queue": "sample", "after": -1},
                    headers={"X-Review-Token": "nope"}).status_code == 403
    page = bare.get("/", params={"token": token})
    assert page.status_code == 200 and "docdistill review" in page.text
    assert "docdistill_review" in page.headers["set-cookie"] and "samesite=strict" in page.headers["set-cookie"].lower()
    # the cookie alone may read, but a change needs the header the page sends
    cookie_only = TestClient(client.app, base_url="http://127.0.0.1")
    cookie_only.cookies.set("docdistill_review", token)
    assert cookie_only.get("/api/item", params={"queue": "sample", "after": -1}).status_code == 200
    assert cookie_only.post("/api/verdict", json={}).status_code == 403
    other = TestClient(client.app, base_url="http://evil.example", headers={"X-Review-Token": token})
    assert other.get("/", params={"token": token}).status_code == 400
    assert other.get("/api/item", params={"queue": "sample", "after": -1}).status_code == 400
    assert client.get("/static/review.js").status_code == 200
    assert client.get("/static/../app.py").status_code == 404


def test_an_invalid_edit_is_not_stored_and_says_where(review):
    client, _, _, run = review
    found = item(client, "sample")
    label = dict(found["label"], direction="sideways", elements=[{"kind": "heading", "text": "x", "level": 1.5}])
    response = verdict(client, found, "accept", label=label)
    assert response.status_code == 422
    assert {e["loc"] for e in response.json()["errors"]} == {"direction", "elements.0.level"}
    checked = client.post("/api/validate", json={"task": "content", "label": label}).json()["errors"]
    assert {e["loc"] for e in checked} == {"direction", "elements.0.level"}
    assert verdict(client, found, "reject").status_code == 422          # a reject needs a reason
    with RunStore(run, read_only=True) as store:
        assert list(store.iter_verdicts()) == []


def test_verdicts_are_an_audit_trail_and_a_stale_save_is_a_conflict(review):
    client, _, _, run = review
    with RunStore(run, read_only=True) as store:
        labels_before = [dict(r) for r in store.label_rows()]
    tab_one = item_at(client, "sample", "a.pdf", 2)
    tab_two = item_at(client, "sample", "a.pdf", 2)
    edited = json.loads(json.dumps(tab_one["label"]))
    edited["elements"][0]["text"] = ARABIC + " (مصحح)"
    first = verdict(client, tab_one, "accept", label=edited)
    assert first.status_code == 200 and first.json()["verdict"] == "edit" and first.json()["revision"] == 1
    assert first.json()["diff"] == [{"path": "elements.0.text", "before": tab_one["label"]["elements"][0]["text"],
                                     "after": ARABIC + " (مصحح)"}]
    stale = verdict(client, tab_two, "accept", label=tab_two["label"])
    assert stale.status_code == 409 and stale.json()["conflict"] and "reload" in stale.json()["error"]
    again = item(client, "sample")                      # the next one to decide: not the one just done
    assert again["position"] != tab_one["position"]
    reloaded = client.get("/api/item", params={"queue": "sample", "position": tab_one["position"]}).json()["item"]
    assert reloaded["label"]["elements"][0]["text"].endswith("(مصحح)") and reloaded["revision"] == 1
    assert verdict(client, again, "reject", reason="wrong_text: totals missing").status_code == 200
    assert verdict(client, item(client, "invalid"), "skip").status_code == 200
    progress = {p["queue"]: (p["done"], p["total"]) for p in item(client, "manual")["progress"]}
    assert progress["sample"] == (2, 3) and progress["invalid"] == (0, 1)    # a skip decides nothing
    with RunStore(run, read_only=True) as store:
        rows = [dict(r) for r in store.iter_verdicts()]
        assert [dict(r) for r in store.label_rows()] == labels_before      # the teacher's answers untouched
    assert [(r["verdict"], r["reviewer"], r["revision"]) for r in rows] == [
        ("edit", "amira", 1), ("reject", "amira", 1), ("skip", "amira", 1)]
    assert json.loads(rows[0]["label_before"]) == tab_one["label"]
    assert json.loads(rows[0]["label_after"])["elements"][0]["text"] == ARABIC + " (مصحح)"
    assert rows[1]["reason"] == "wrong_text: totals missing" and rows[1]["label_after"] is None
    assert rows[0]["created_at"] > 0 and rows[0]["source"] == "stub/m"


def item_at(client, queue, document, page_no):
    """The item of ``queue`` showing that page (queues are in doc id order: content hashes)."""
    for position in range(50):
        found = client.get("/api/item", params={"queue": queue, "position": position}).json()["item"]
        if found is None:
            break
        if (found["document"], found["page_no"]) == (document, page_no):
            return found
    raise AssertionError(f"{document} page {page_no} is not in queue {queue}")


def build(run, out, *flags):
    done = subprocess.run([sys.executable, "-m", "pipeline.build_dataset", str(run), "--out", str(out), "--json",
                           "--no-validate", "--val-fraction", "0", *flags], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def review_four(client):
    """a.pdf p1 accepted, a.pdf p2 rejected, c.pdf's failed answer fixed, b.pdf (held back) labelled."""
    accepted = item_at(client, "sample", "a.pdf", 1)
    assert verdict(client, accepted, "accept", label=accepted["label"]).json()["verdict"] == "accept"
    rejected = item_at(client, "sample", "a.pdf", 2)
    assert verdict(client, rejected, "reject", reason="wrong_language").status_code == 200
    fixed = item(client, "invalid")
    label = dict(accepted["label"], markdown="# Ledger 9", direction="ltr")
    assert verdict(client, fixed, "accept", label=label).json()["verdict"] == "edit"
    manual = item(client, "manual")
    assert verdict(client, manual, "accept", label=manual["label"]).json()["verdict"] == "accept"


def test_build_dataset_honours_verdicts(review, tmp_path):
    client, _, _, run = review
    review_four(client)
    summary = build(run, tmp_path / "ds")
    records = json.loads((tmp_path / "ds" / "docdistill_train.json").read_text())
    answers = sorted(json.loads(r["conversations"][1]["value"])["markdown"] for r in records)
    assert answers == ["# Deposit 5", "# Invoice 42\n\nTotal: 100 EUR", "# Ledger 9", "Patient record 7 - page 1"]
    assert summary["dropped"] == {"rejected_in_review": 1}
    assert summary["review"] == {"verdicts": 4, "accepted": 2, "edited": 1, "rejected": 1,
                                 "rejected_by_reason": {"wrong_language": 1}, "golden": False,
                                 "golden_records": 0, "golden_documents": 0, "held_out_golden_document_pages": 0}
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["review"] == summary["review"]
    assert manifest["teachers"] == {"stub/m": 2, "review/edit": 2}


def test_golden_pages_are_a_locked_set_apart_from_training(review, tmp_path):
    client, _, _, run = review
    review_four(client)
    summary = build(run, tmp_path / "golden", "--golden")
    out = tmp_path / "golden"
    golden = json.loads((out / "docdistill_golden.json").read_text())
    train = json.loads((out / "docdistill_train.json").read_text())
    assert all(r["golden"] is True for r in golden) and len(golden) == 3     # a.pdf p1, b.pdf, c.pdf
    assert [json.loads(r["conversations"][1]["value"])["markdown"] for r in train] == ["# Deposit 5"]
    assert "docdistill_golden" in json.loads((out / "dataset_info.json").read_text())
    assert summary["dropped"] == {"rejected_in_review": 1}                   # a.pdf p2: rejected, not held out
    assert summary["review"]["golden_records"] == 3 and summary["review"]["golden_documents"] == 3
    assert "golden" not in (out / "docdistill.yaml").read_text().split("dataset:")[1].split("\n")[0]


def test_per_item_queries_use_indexes(review):
    """No full-table scan per page: every statement the item and verdict endpoints run, explained."""
    client, token, _, run = review
    statements: list[str] = []
    lock = threading.Lock()

    def record(sql: str) -> None:
        with lock:
            statements.append(sql)

    def traced(run_dir):
        store = RunStore(run_dir)
        store.conn.set_trace_callback(record)
        return store

    app, token, _ = review_app(ReviewConfig(run, "amira"), opener=traced)
    traced_client = TestClient(app, base_url="http://127.0.0.1", headers={"X-Review-Token": token})
    found = item(traced_client, "sample")
    assert verdict(traced_client, found, "reject", reason="other").status_code == 200   # marks the item done
    item(traced_client, "sample", after=found["position"])
    plans = {}
    with RunStore(run, read_only=True) as store:
        for sql in {s for s in statements if s.lstrip().upper().startswith(("SELECT", "UPDATE", "INSERT"))}:
            plans[sql] = [r["detail"] for r in store.conn.execute("EXPLAIN QUERY PLAN " + sql)]
    assert any("review_items" in sql for sql in plans) and any("FROM labels" in sql for sql in plans)
    assert any(sql.startswith("UPDATE review_progress") for sql in plans)
    # review_progress holds one row per queue (six): reading it whole is the point
    scans = {sql: [d for d in details if d.startswith("SCAN") and "review_progress" not in d]
             for sql, details in plans.items()}
    assert {sql: found for sql, found in scans.items() if found} == {}
    with RunStore(run, read_only=True) as store:
        assert store.get_meta("schema_version") == "1"
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
