"""Prompt caching end to end: the request layout, the cached tokens each API reports, and what they cost.

Real SDK clients against the provider stub, which reports cached tokens the way each API does when
a request's prefix repeats an earlier one's (OpenAI ``prompt_tokens_details.cached_tokens``, Gemini
``cachedContentTokenCount``).
"""

from __future__ import annotations

import json

import pytest

from pipeline.label.cost import load_prices
from pipeline.label.tracking import flatten_figures
from pipeline.tasks import resolve_tasks
from pipeline.teachers import TeacherSettings, make_teacher
from tests.label.test_label import KEY, label, render, valid_answer
from tests.support.provider_stub import ProviderStub

PROVIDERS = [("gemini", "GEMINI_API_KEY", b'"inlineData"', "gemini-2.5-flash"),
             ("openai", "OPENAI_API_KEY", b'"image_url"', "gpt-4o-2024-08-06")]
TASKS = {t.name: t for t in resolve_tasks(["content", "metadata"])}


def task_of(request) -> str:
    return "content" if "markdown" in json.dumps(request.schema or {}) else "metadata"


def usage_numbers(provider: str, usage: dict) -> tuple[int, int, int]:
    """(input, output, cached) tokens from the usage the stub answered with, in each API's own words."""
    if provider == "gemini":
        return usage["promptTokenCount"], usage["candidatesTokenCount"], usage.get("cachedContentTokenCount", 0)
    return usage["prompt_tokens"], usage["completion_tokens"], usage["prompt_tokens_details"]["cached_tokens"]


@pytest.mark.parametrize("teacher, env, image_marker, model", PROVIDERS)
def test_second_and_later_requests_carry_a_byte_identical_prefix(tmp_path, monkeypatch, teacher, env, image_marker,
                                                                 model):
    monkeypatch.setenv(env, KEY)
    cfg = render(tmp_path, pages=3)
    with ProviderStub(valid_answer) as stub:
        url = stub.url if teacher == "gemini" else stub.openai_url
        summary, labels = label(cfg, teacher, url, tasks=("content", "metadata"), concurrency=1)
    assert {l.outcome for l in labels.values()} == {"ok"} and len(labels) == 6
    requests = stub.requests
    assert len(requests) == 6 and len({r.image_bytes for r in requests}) == 3       # three different pages
    for name, task in TASKS.items():
        mine = [r for r in requests if task_of(r) == name]
        # Everything before the image, byte for byte as sent: the same in every request of the task,
        # and it holds the whole static prompt, so a prompt cache can serve it.
        prefixes = {r.raw[:r.raw.index(image_marker)] for r in mine}
        assert len(prefixes) == 1
        # OpenAI's request carries the schema, cached with the prompt; Gemini's prompt quotes it (quotes_schema).
        static = task.teacher_prompt(None, quote_schema=teacher == "gemini")
        assert len(prefixes.pop()) > len(static.encode())
        first_text = (mine[0].body["contents"][0]["parts"][0]["text"] if teacher == "gemini"
                      else mine[0].body["messages"][0]["content"][0]["text"])
        assert first_text == static
        # The first request of a task finds nothing cached; every later one has its prefix cached.
        cached = [usage_numbers(teacher, r.usage)[2] for r in mine]
        assert cached[0] == 0 and all(c >= 1024 for c in cached[1:])
        if teacher == "openai":
            assert all(c % 128 == 0 for c in cached)                                 # 128-token steps
    # What the stub reported is what the run counted, priced at the cached rate.
    reported = [usage_numbers(teacher, r.usage) for r in requests]
    tokens_in, tokens_out, tokens_cached = (sum(column) for column in zip(*reported))
    assert (summary.tokens_in, summary.tokens_out, summary.tokens_cached) == (tokens_in, tokens_out, tokens_cached)
    price = load_prices().get(model)
    assert price.cached_input is not None and price.cached_input < price.input
    by_hand = sum(((i - c) * price.input + c * price.cached_input + o * price.output) / 1e6 for i, o, c in reported)
    assert summary.cost_usd == pytest.approx(by_hand, rel=1e-9)
    uncached = sum((i * price.input + o * price.output) / 1e6 for i, o, _ in reported)
    assert summary.cost_usd < uncached
    # The cost table adds up: the labels' own token counts sum to the run's.
    assert sum(l.tokens_in for l in labels.values()) == tokens_in
    data = summary.to_dict()
    assert data["tokens"] == {"in": tokens_in, "out": tokens_out, "cached": tokens_cached}
    assert flatten_figures({"label": data})["label/tokens/cached"] == tokens_cached          # what W&B gets
    assert f"cached {tokens_cached / 1000:.1f}k" in summary.progress_text(summary, summary.cost_usd)


def test_a_stub_without_caching_reports_none_and_the_anchor_goes_after_the_image(tmp_path, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    cfg = render(tmp_path, pages=2)
    with ProviderStub(valid_answer, caching=False) as stub:
        summary, labels = label(cfg, "gemini", stub.url, tasks=("content",), concurrency=1, anchor=True)
    assert summary.tokens_cached == 0 and {l.outcome for l in labels.values()} == {"ok"}
    for request in stub.requests:
        parts = request.body["contents"][0]["parts"]
        assert [("text" in p, "inlineData" in p) for p in parts] == [(True, False), (False, True), (True, False)]
        assert parts[0]["text"] == TASKS["content"].teacher_prompt(None, quote_schema=True)   # Gemini quotes it
        assert parts[2]["text"].startswith("## Text layer of this page") and "Invoice 42" in parts[2]["text"]


def test_dry_run_assumes_the_documented_caching_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    cfg = render(tmp_path, pages=3)
    with ProviderStub(valid_answer) as stub:
        summary, _ = label(cfg, "openai", stub.openai_url, tasks=("content", "metadata"), dry_run=True)
        assert stub.requests == []
    e = summary.estimate
    # The cached prefix: the prompt, not quoting the schema, and the response schema (no titles), which
    # OpenAI caches with it; text_tokens counts ASCII text at 4 characters a token, rounded up.
    teacher = make_teacher("openai", TeacherSettings())
    assert not teacher.quotes_schema
    static = {name: -(-len(t.teacher_prompt(None, quote_schema=False)) // 4)
                    + -(-len(json.dumps(teacher.response_schema(t), separators=(",", ":"))) // 4)
              for name, t in TASKS.items()}
    teacher.close()
    # Two of the three requests of each task hit the cache, for their static prompt in 128-token steps.
    assert e["cached_tokens_assumed"] == sum(2 * (n // 128 * 128) for n in static.values())
    assert "1,024+ tokens" in e["caching"] and e["requests"] == 6
    price = load_prices().get("gpt-4o-2024-08-06")
    fresh = e["image_tokens"] + e["prompt_tokens"] - e["cached_tokens_assumed"]
    assert e["cost_usd"] == pytest.approx((fresh * 2.5 + e["cached_tokens_assumed"] * 1.25
                                           + e["output_tokens_assumed"] * 10.0) / 1e6, abs=1e-6)
    assert price.cached_input == 1.25
    one = label(cfg, "openai", stub.openai_url, tasks=("content", "metadata"), dry_run=True,
                one_request_per_page=True)[0].estimate
    assert one["requests"] == 3 and one["image_tokens"] * 2 == e["image_tokens"] and one["cost_usd"] < e["cost_usd"]
