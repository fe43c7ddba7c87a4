"""python -m pipeline.merge carries the review verdicts: appended, deduplicated, revision order kept."""

from __future__ import annotations

import shutil

from pipeline.merge import merge_runs
from pipeline.records import ReviewVerdict
from pipeline.store import RunStore
from tests.support.review_fixtures import content_label, make_review_run


def pages_by_name(store: RunStore) -> dict[str, dict]:
    return {store.get_document(r["doc_id"])["path"] + f"#{r['page_index']}": dict(r) for r in store.rendered_page_rows()}


def decide(run, name: str, verdict: str, reviewer: str, **kw) -> int:
    with RunStore(run) as store:
        store.ensure_review_tables()
        page = pages_by_name(store)[name]
        base = store.label_revision(page["image_sha256"], "content")
        return store.add_verdict(ReviewVerdict(page["image_sha256"], "content", page["doc_id"], page["page_index"],
                                               verdict, reviewer, "p", "s", **kw), base)


def verdict_rows(run) -> list[tuple]:
    with RunStore(run, read_only=True) as store:
        names = {(r["doc_id"], r["page_index"]): n for n, r in pages_by_name(store).items()}
        return sorted((names[(r["doc_id"], r["page_index"])], r["revision"], r["verdict"], r["reviewer"], r["reason"])
                      for r in store.iter_verdicts())


def test_merge_appends_verdicts_in_revision_order_and_drops_identical_ones(tmp_path):
    shard_a, _ = make_review_run(tmp_path / "a")
    decide(shard_a, "a.pdf#0", "accept", "amira", label_after=content_label("# Invoice 42"))
    shard_b = tmp_path / "b" / "run"                        # a copy: the same images, and amira's verdict too
    shutil.copytree(shard_a, shard_b)
    decide(shard_a, "a.pdf#0", "reject", "amira", reason="wrong_total")
    decide(shard_b, "a.pdf#0", "edit", "omar", label_after=content_label("# Invoice 42 (omar)"))
    decide(shard_b, "a.pdf#0", "skip", "omar")
    decide(shard_b, "d.pdf#0", "reject", "omar", reason="blurred")
    out = tmp_path / "merged"
    summary = merge_runs([shard_a, shard_b], out)
    assert summary.changed["review_verdicts"] == 2 + 3
    assert verdict_rows(out) == [("a.pdf#0", 1, "accept", "amira", ""), ("a.pdf#0", 2, "reject", "amira", "wrong_total"),
                                 ("a.pdf#0", 3, "edit", "omar", ""), ("a.pdf#0", 4, "skip", "omar", ""),
                                 ("d.pdf#0", 1, "reject", "omar", "blurred")]
    with RunStore(out, read_only=True) as store:
        decisions = store.review_decisions()
        rows = {r["verdict"]: r for r in store.iter_verdicts()}
    assert {r["verdict"] for r in decisions.values()} == {"edit", "reject"}   # the skip decides nothing
    assert '"# Invoice 42 (omar)"' in rows["edit"]["label_after"] and rows["edit"]["created_at"] > 0
    again = merge_runs([shard_a, shard_b], out)                       # merging again changes nothing
    assert again.changed["review_verdicts"] == 0 and len(verdict_rows(out)) == 5


def test_a_shard_never_reviewed_merges_as_before(tmp_path):
    shard, _ = make_review_run(tmp_path / "a")
    summary = merge_runs([shard], tmp_path / "merged")
    assert summary.changed["review_verdicts"] == 0 and summary.changed["labels"] == 5
    with RunStore(tmp_path / "merged", read_only=True) as store:
        assert not store.has_review_tables()
