"""``--pages-per-request N``: several pages (every task of each) in one request, split back per page and task.

Real google-genai and openai clients against the provider stub. The stub answers each page with a
transcription naming the page the image shows, so a label stored under the wrong page would show.
"""

from __future__ import annotations

import copy
import json

import pytest

from pipeline.distill import build_parser, label_config_from_args
from pipeline.errors import ConfigError
from pipeline.label.stage import LabelConfig
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from tests.label.test_label import CONTENT, KEY, METADATA, label, render
from tests.support.provider_stub import Behaviour, ProviderStub, StubRequest

PROVIDERS = [("gemini", "GEMINI_API_KEY"), ("openai", "OPENAI_API_KEY")]


def pages_by_image(cfg) -> dict[bytes, int]:
    """Each rendered page's image (as sent) -> its page index."""
    with RunStore(cfg.run_dir) as store:
        return {(cfg.run_dir / p.image_path).read_bytes(): p.page_index for p in store.iter_pages()}


def page_answer(page: int) -> dict:
    content = copy.deepcopy(CONTENT)
    content["markdown"] = f"# Page {page}"
    return {"content": content, "metadata": METADATA}


def kind(request: StubRequest) -> str:
    props = set((request.schema or {}).get("properties", {}))
    if props and all(p.startswith("page_") for p in props):
        return f"pages:{len(props)}"
    return "both" if props == {"content", "metadata"} else "content" if "markdown" in props else "metadata"


def responder(page_of: dict[bytes, int], broken: dict[int, str] | None = None):
    """Each page answered for the page its image shows; ``broken``: page -> what goes wrong for it."""
    broken = broken or {}

    def answer(request: StubRequest) -> Behaviour:
        pages = [page_of[image] for image in request.images]
        if kind(request).startswith("pages:"):
            if any(broken.get(p) == "cut" for p in pages):
                return Behaviour.truncated()
            body = {}
            for k, page in enumerate(pages, 1):
                body[f"page_{k}"] = page_answer(page)
                if broken.get(page) == "invalid_metadata":
                    body[f"page_{k}"]["metadata"] = {"classification": "invoice"}
            return Behaviour.ok(body)
        [page] = pages
        whole = page_answer(page)
        return Behaviour.ok(whole if kind(request) == "both" else whole[kind(request)])
    return answer


@pytest.mark.parametrize("teacher, env", PROVIDERS)
def test_pages_share_a_request_and_each_page_and_task_gets_its_own_label(tmp_path, monkeypatch, teacher, env):
    monkeypatch.setenv(env, KEY)
    cfg = render(tmp_path, pages=5)
    page_of = pages_by_image(cfg)
    with ProviderStub(responder(page_of)) as stub:
        url = stub.url if teacher == "gemini" else stub.openai_url
        summary, labels = label(cfg, teacher, url, tasks=("content", "metadata"), concurrency=1, pages_per_request=2)
    requests = stub.requests
    # 5 pages, 2 a request: 2 + 2 + 1 (a page left alone is asked as --one-request-per-page asks it).
    assert [kind(r) for r in requests] == ["pages:2", "pages:2", "both"]
    assert sorted(page_of[i] for r in requests for i in r.images) == [0, 1, 2, 3, 4]
    for request in requests[:2]:
        texts = [text for kind_, text, _ in request.prefix_units() if kind_ == "text"]
        assert texts[1:] == ["Page 1 of 2:", "Page 2 of 2:"]
    # The static prefix (schema, prompt, first label) is byte-identical, so the cache serves the second.
    marker = b'"inlineData"' if teacher == "gemini" else b'"image_url"'
    assert len({r.raw[:r.raw.index(marker)] for r in requests[:2]}) == 1 and summary.tokens_cached > 0
    assert {(task, l.outcome) for (_, task), l in labels.items()} == {("content", "ok"), ("metadata", "ok")}
    assert len(labels) == 10
    for page in range(5):                  # every page's label is its own page's answer
        assert labels[(page, "content")].label["markdown"] == f"# Page {page}"
        assert labels[(page, "metadata")].label["source"]["issuer"] == "Northwind"
        assert labels[(page, "content")].params.get("pages_per_request") == (2 if page < 4 else None)
    assert summary.requests == 3
    assert sum(l.tokens_in for l in labels.values()) == summary.tokens_in
    assert sum(l.tokens_out for l in labels.values()) == summary.tokens_out
    # A rerun sends nothing: the labels are stored under each task's own request key.
    with ProviderStub(responder(page_of)) as again:
        url = again.url if teacher == "gemini" else again.openai_url
        label(cfg, teacher, url, tasks=("content", "metadata"), pages_per_request=2)
        assert again.requests == []


@pytest.mark.parametrize("teacher, env", PROVIDERS)
def test_a_failed_part_is_repaired_alone_and_a_cut_off_request_is_asked_page_by_page(tmp_path, monkeypatch,
                                                                                    teacher, env):
    monkeypatch.setenv(env, KEY)
    cfg = render(tmp_path, pages=4)
    page_of = pages_by_image(cfg)
    with ProviderStub(responder(page_of, {1: "invalid_metadata", 3: "cut"})) as stub:
        url = stub.url if teacher == "gemini" else stub.openai_url
        summary, labels = label(cfg, teacher, url, tasks=("content", "metadata"), concurrency=1, pages_per_request=2)
    asked = [(kind(r), sorted(page_of[i] for i in r.images)) for r in stub.requests]
    assert asked == [("pages:2", [0, 1]), ("metadata", [1]),                  # page 1's metadata repaired alone
                     ("pages:2", [2, 3]), ("both", [2]), ("both", [3])]       # cut off: page by page
    assert {l.outcome for l in labels.values()} == {"ok"} and len(labels) == 8
    assert labels[(1, "metadata")].warnings[0] == "repaired"      # its re-ask is its one request of its own
    assert labels[(1, "content")].label["markdown"] == "# Page 1"
    assert "pages_per_request:asked_alone" in labels[(3, "content")].warnings
    assert labels[(3, "content")].label["markdown"] == "# Page 3"
    assert summary.requests == 5 and sum(l.attempts for l in labels.values()) == 5
    assert sum(l.tokens_in for l in labels.values()) == summary.tokens_in


def test_the_flag_is_checked_and_reaches_the_config(tmp_path):
    args = build_parser().parse_args([str(tmp_path), "--out", "x", "--pages-per-request", "4"])
    assert label_config_from_args(args).pages_per_request == 4
    tasks = tuple(resolve_tasks(["content"]))
    for bad in (0, 9):
        with pytest.raises(ConfigError, match="--pages-per-request must be 1..8"):
            LabelConfig(tasks=tasks, pages_per_request=bad)
    with pytest.raises(ConfigError, match="drop --anchor"):
        LabelConfig(tasks=tasks, pages_per_request=2, anchor=True)


def test_a_teacher_that_cannot_combine_pages_is_a_config_error(tmp_path):
    cfg = render(tmp_path, pages=1)
    with pytest.raises(ConfigError, match="--pages-per-request needs a teacher"):
        label(cfg, "textlayer", "", tasks=("content",), pages_per_request=2)


def test_dry_run_counts_one_request_per_group_and_every_image(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    cfg = render(tmp_path, pages=5)
    with ProviderStub() as stub:
        alone, _ = label(cfg, "openai", stub.openai_url, tasks=("content", "metadata"), dry_run=True,
                         one_request_per_page=True)
        grouped, _ = label(cfg, "openai", stub.openai_url, tasks=("content", "metadata"), dry_run=True,
                           pages_per_request=4)
        assert stub.requests == []
    assert (alone.estimate["requests"], grouped.estimate["requests"]) == (5, 2)
    assert grouped.estimate["image_tokens"] == alone.estimate["image_tokens"]     # each image once either way
    assert grouped.estimate["prompt_tokens"] < alone.estimate["prompt_tokens"]
    assert json.dumps(grouped.estimate)


def test_a_dense_page_goes_in_a_request_of_its_own(tmp_path, monkeypatch):
    """Pages go together only while their answers, estimated from the text layers, fit half the output limit."""
    import pymupdf

    from pipeline.label.pages import answer_tokens
    from pipeline.render.config import RenderConfig, RenderRunConfig
    from pipeline.render.stage import render_folder

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    doc = pymupdf.open()
    dense = " ".join(f"Clause {i}: the insured shall notify the insurer in writing." for i in range(200))
    for i in range(5):
        page = doc.new_page(width=595, height=842)
        if i == 2:
            assert page.insert_textbox(pymupdf.Rect(20, 20, 575, 822), dense, fontsize=4) >= 0
        else:
            page.insert_text((72, 100), f"Invoice 42 - page {i + 1}", fontsize=14)
    (tmp_path / "in").mkdir()
    doc.save(tmp_path / "in" / "policy.pdf")
    cfg = RenderRunConfig(pdf_dir=tmp_path / "in", run_dir=tmp_path / "run", render=RenderConfig(longest_side=128))
    with RunStore(cfg.run_dir) as store:
        render_folder(cfg, store, progress=False)
    assert answer_tokens(dense) > 8192 // 2 > 4 * answer_tokens("Invoice 42 - page 1") // 2
    page_of = pages_by_image(cfg)
    with ProviderStub(responder(page_of)) as stub:
        _, labels = label(cfg, "openai", stub.openai_url, tasks=("content", "metadata"), pages_per_request=4)
    asked = sorted((sorted(page_of[i] for i in r.images), kind(r)) for r in stub.requests)
    assert asked == [([0, 1], "pages:2"), ([2], "both"), ([3, 4], "pages:2")]
    assert {l.outcome for l in labels.values()} == {"ok"} and len(labels) == 10


def test_the_cli_refuses_it_for_an_offline_teacher_before_any_work(tmp_path, capsys):
    from pipeline import distill
    from tests.conftest import make_pdf

    make_pdf(tmp_path / "in" / "a.pdf")
    assert distill.main([str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--pages-per-request", "2"]) == 2
    assert "--pages-per-request needs a teacher" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()                # nothing rendered, nothing written
