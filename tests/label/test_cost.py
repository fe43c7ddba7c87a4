"""Price table, image token rules, and the CLI's --dry-run / --prices / --max-cost checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pipeline.errors import ConfigError
from pipeline.label.cost import CostMeter, load_prices
from pipeline.teachers.gemini import gemini_image_tokens
from pipeline.teachers.openai_chat import openai_image_tokens
from tests.conftest import REPO_ROOT, make_pdf
from tests.support.provider_stub import ProviderStub
from tests.label.test_label import KEY, valid_answer


def test_shipped_price_table_is_complete_and_dated():
    table = load_prices()
    assert table.batch_discount == 0.5
    for name in ("gemini-2.5-flash", "gpt-4o-2024-08-06"):
        price = table.get(name)
        assert price.input > 0 and price.output > price.input and price.source.startswith("https://") and price.as_of
    assert table.get("gpt-4o-2099-01-01").model == "gpt-4o"          # a new snapshot falls back to its family
    assert table.get("no-such-model") is None


def test_cached_rates_are_read_and_priced():
    table = load_prices()
    flash, gpt = table.get("gemini-2.5-flash"), table.get("gpt-4o-2024-08-06")
    assert (flash.cached_input, flash.batch_cached_input) == (0.03, 0.03)        # Gemini 2.5 Flash list price
    assert (gpt.cached_input, gpt.batch_cached_input) == (1.25, None)             # GPT-4o: half the input rate
    # 10,000 tokens in (8,000 of them cached), 1,000 out:
    assert flash.cost(10_000, 1_000, cached=8_000) == pytest.approx((2_000 * 0.30 + 8_000 * 0.03 + 1_000 * 2.5) / 1e6)
    assert gpt.cost(10_000, 1_000, 0.5, cached=8_000) == pytest.approx((10_000 * 1.25 + 1_000 * 5.0) / 1e6)
    assert flash.cost(10_000, 1_000, 0.5, cached=8_000) == pytest.approx(
        (2_000 * 0.15 + 8_000 * 0.03 + 1_000 * 1.25) / 1e6)
    meter = CostMeter(flash)
    assert meter.settle(meter.estimate(10_000), 10_000, 1_000, 8_000) == pytest.approx(flash.cost(10_000, 1_000,
                                                                                                  cached=8_000))
    assert table.get("gemini-2.0-flash").cached_input is None                     # none given: the input rate
    assert table.get("gemini-2.0-flash").cost(100, 0, cached=100) == table.get("gemini-2.0-flash").cost(100, 0)


@pytest.mark.parametrize("content, message", [("models: 3", "models:"), ("models:\n  m: {input: x}", "numeric"),
                                              ("models:\n  m: {input: 1, output: 2, cached_input: cheap}", "cached_input"),
                                              ("[unclosed", "YAML")])
def test_bad_price_files_are_config_errors(tmp_path, content, message):
    path = tmp_path / "p.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_prices(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_prices(tmp_path / "missing.yaml")


@pytest.mark.parametrize("size, gemini, openai_high", [((384, 384), 258, 255), ((385, 200), 258, 255),
                                                       ((768, 768), 258, 765), ((1536, 1536), 1032, 765),
                                                       ((2048, 4096), 18 * 258, 6 * 170 + 85)])
def test_image_token_rules(size, gemini, openai_high):
    # (385, 200): one side above 384 -> 768-px tiles, a single one.
    assert gemini_image_tokens(*size) == gemini
    assert openai_image_tokens(*size) == openai_high


def distill(*args, env):
    return subprocess.run([sys.executable, "-m", "pipeline.distill", *args, "--no-progress"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300, env=env)


def test_cli_dry_run_sends_nothing_and_bad_budget_settings_fail_fast(tmp_path):
    make_pdf(tmp_path / "in" / "a.pdf", pages=3)
    env = {**os.environ, "GEMINI_API_KEY": KEY}
    with ProviderStub(valid_answer) as stub:
        base = (str(tmp_path / "in"), "--out", str(tmp_path / "run"), "--teacher", "gemini", "--base-url", stub.url)
        result = distill(*base, "--dry-run", "--json", env=env)
        assert result.returncode == 0, result.stderr
        estimate = json.loads(result.stdout)["label"]["estimate"]
        assert estimate["pages"] == 3 and estimate["requests"] == 6 and estimate["image_tokens"] == 6 * 1032
        assert estimate["cost_usd"] > 0
        text = distill(*base, "--dry-run", env=env).stdout
        assert "dry run, nothing sent: 3 page(s), 6 request(s)" in text
        unknown = distill(*base, "--model", "gemini-9-ultra", "--max-cost", "1", env=env)
        assert unknown.returncode == 2 and "gemini-9-ultra" in unknown.stderr
        missing = distill(*base, "--prices", str(tmp_path / "nope.yaml"), env=env)
        assert missing.returncode == 2 and "nope.yaml" in missing.stderr
        bad = distill(*base, "--concurrency", "0", env=env)
        assert bad.returncode == 2 and "--concurrency" in bad.stderr
        assert not stub.requests
