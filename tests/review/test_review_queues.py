"""The foreign-script, disagreement and mined queues on a real run: textlayer + a cloud teacher over HTTP
(the openai SDK against the local stub), build_dataset, evaluate --mine, then the review app's queues."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from pipeline.errors import ConfigError
from pipeline.review.queues import label_text, mined_ids
from pipeline.review.setup import ReviewConfig, review_app
from tests.support.review_runs import cloud_labels, evaluate_and_mine, offline_labels, render_run

TEXTS = {"agree.pdf": "Statement agree of account 1234",
         "far.pdf": "Tax 7",
         "near.pdf": "Payment of 250 EUR received on 12 March from Northwind Traders",
         "foreign.pdf": "Statement foreign of account 1234",
         "hard.pdf": "Ledger hard 9",
         "soft.pdf": "Ledger soft 8 for the year 2024",
         "scan.pdf": None}


def relabel(label: dict, text: str) -> dict:
    return dict(label, markdown=text, elements=[dict(label["elements"][0], text=text)])


def queue_documents(client, queue: str) -> list[tuple[str, str]]:
    """(document, why) of every item of a queue, in queue order."""
    found = []
    for position in range(100):
        item = client.get("/api/item", params={"queue": queue, "position": position}).json()["item"]
        if item is None:
            return found
        found.append((item["document"], item["why"]))
    raise AssertionError(f"queue {queue} does not end")


@pytest.fixture(scope="module")
def sorted_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("queues")
    mp = pytest.MonkeyPatch()
    mp.setenv("OPENAI_API_KEY", "sk-test-queues")
    cfg = render_run(tmp_path, TEXTS)
    offline = offline_labels(cfg)
    assert set(offline) == set(TEXTS) - {"scan.pdf"}           # no text layer: textlayer gives no label
    answers = {name: offline.get(name) for name in TEXTS}
    answers["far.pdf"] = relabel(offline["far.pdf"], "Rent 3 paid in cash")
    answers["near.pdf"] = relabel(offline["near.pdf"], "Payment of 950 EUR refused by Northwind")
    answers["foreign.pdf"] = relabel(offline["foreign.pdf"], "Statement of account 1234 中国银行")
    answers["scan.pdf"] = relabel(offline["agree.pdf"], "A black bar")
    requests = cloud_labels(cfg, answers)
    assert len(requests) == len(TEXTS)
    soft = json.dumps(relabel(offline["soft.pdf"], "Ledger of another firm, year 1999"), ensure_ascii=False)
    eval_dir = evaluate_and_mine(tmp_path, cfg.run_dir, {"hard.pdf": "not json", "soft.pdf": soft,
                                                          "far.pdf": "not json either"})
    app, token, counts = review_app(ReviewConfig(cfg.run_dir, "amira", pdf_dir=cfg.pdf_dir, eval_dir=eval_dir,
                                                 sample_size=10))
    client = TestClient(app, base_url="http://127.0.0.1", headers={"X-Review-Token": token})
    yield client, counts, eval_dir
    mp.undo()


def test_each_page_lands_in_the_first_queue_that_fits(sorted_run):
    client, counts, _ = sorted_run
    assert counts == {"invalid": 0, "foreign_script": 1, "disagreement": 2, "mined": 2, "sample": 2, "manual": 0}
    # foreign.pdf also disagrees with the text layer: the foreign script comes first
    assert queue_documents(client, "foreign_script") == [("foreign.pdf", "Han")]
    assert sorted(doc for doc, _ in queue_documents(client, "sample")) == ["agree.pdf", "scan.pdf"]
    assert queue_documents(client, "manual") == queue_documents(client, "invalid") == []


def test_disagreements_least_alike_first_and_only_where_both_teachers_answered(sorted_run):
    client, _, _ = sorted_run
    found = queue_documents(client, "disagreement")
    # far.pdf was also mined, but a page is in one queue only: the first that fits
    assert [doc for doc, _ in found] == ["far.pdf", "near.pdf"]
    alike = [int(why.split(": ")[1].split("%")[0]) for _, why in found]
    assert all(why.startswith("textlayer vs openai: ") for _, why in found)
    assert alike[0] < alike[1] < 80
    # scan.pdf has no text layer (no textlayer label): nothing to disagree with, so it is a spot check


def test_two_labels_that_say_different_things_are_not_alike_for_sharing_field_names():
    tax = {"languages": ["en"], "direction": "ltr", "page_number": None, "has_tables": False,
           "has_handwriting": False, "elements": [{"kind": "paragraph", "text": "Tax 7 - page 1", "level": None}],
           "markdown": "Tax 7 - page 1"}
    rent = relabel(tax, "Rent 3 paid in cash")
    assert label_text(tax) == "en ltr paragraph tax 7 page 1 tax 7 page 1"
    from rapidfuzz import fuzz

    assert fuzz.ratio(json.dumps(tax, sort_keys=True), json.dumps(rent, sort_keys=True)) > 80   # the old measure
    assert fuzz.ratio(label_text(tax), label_text(rent)) < 80


def test_mined_failures_hardest_first_from_evaluates_folder(sorted_run):
    client, _, eval_dir = sorted_run
    assert queue_documents(client, "mined") == [("hard.pdf", "failed in evaluation"),
                                                ("soft.pdf", "failed in evaluation")]
    ids = mined_ids(eval_dir)
    assert len(ids) == 3 and all(i.endswith(":content") for i in ids)      # far, hard, soft
    assert mined_ids(eval_dir.parent / "mined") == ids                      # the --mine folder itself
    with pytest.raises(ConfigError, match="holds no mined failures"):
        mined_ids(eval_dir.parent / "ds")
