"""Answer checks: salvage, validation outcomes, foreign scripts, the repair prompt."""

from __future__ import annotations

import json

import pytest

from pipeline.label.answers import Outcome, check_reply, repair_prompt, salvage_json
from pipeline.tasks import resolve_tasks
from pipeline.teachers import Reply, ReplyStatus

CONTENT = {"languages": ["ar"], "direction": "rtl", "page_number": None, "has_tables": False,
           "has_handwriting": False, "elements": [{"kind": "heading", "text": "قانون", "level": 1}],
           "markdown": "# قانون رقم 12 لسنة 2003"}
PAGE_TEXT = "قانون رقم 12 لسنة 2003 بإصدار قانون العمل"


@pytest.fixture(scope="module")
def content():
    return resolve_tasks(["content"])[0]


@pytest.mark.parametrize("text, how", [
    (json.dumps(CONTENT, ensure_ascii=False), "strict"),
    ("```json\n" + json.dumps(CONTENT) + "\n```", "code_fence"),
    ("Here is the JSON you asked for:\n" + json.dumps(CONTENT) + "\nLet me know!", "embedded"),
    (json.dumps(CONTENT) + json.dumps(CONTENT), "embedded"),  # run-on: the first complete object wins
])
def test_salvaged_answers_are_ok_and_marked(content, text, how):
    checked = check_reply(content, Reply(ReplyStatus.COMPLETE, text), PAGE_TEXT)
    assert checked.outcome is Outcome.OK and checked.data == CONTENT
    assert checked.warnings == ([] if how == "strict" else [f"salvaged:{how}"])
    assert salvage_json(text)[1] == how


def test_invalid_and_malformed_answers(content):
    bad = {**CONTENT, "direction": "up", "extra": 1}
    checked = check_reply(content, Reply(ReplyStatus.COMPLETE, json.dumps(bad)), PAGE_TEXT)
    assert checked.outcome is Outcome.INVALID and "direction" in checked.errors and "extra" in checked.errors
    checked = check_reply(content, Reply(ReplyStatus.COMPLETE, '{"languages": ["ar"], "markd'), PAGE_TEXT)
    assert checked.outcome is Outcome.MALFORMED_JSON and checked.data is None
    prompt = repair_prompt("PROMPT", "x" * 5000, checked)
    assert prompt.startswith("PROMPT") and "not a JSON object" in prompt and len(prompt) < 2600


@pytest.mark.parametrize("status", [s for s in ReplyStatus if s is not ReplyStatus.COMPLETE])
def test_every_non_complete_reply_is_its_own_outcome(content, status):
    checked = check_reply(content, Reply(status, "partial", detail="why"), PAGE_TEXT)
    assert checked.outcome.value == status.value and checked.errors == "why" and checked.data is None


def test_chinese_in_an_arabic_page_is_flagged(content):
    answer = {**CONTENT, "markdown": CONTENT["markdown"] + " 中华人民共和国"}
    checked = check_reply(content, Reply(ReplyStatus.COMPLETE, json.dumps(answer, ensure_ascii=False)), PAGE_TEXT)
    assert checked.outcome is Outcome.OK and checked.warnings == ["foreign_script:Han"]


def test_a_cut_off_answer_that_loops_is_a_repetition_loop(content):
    looping = '{"languages": ["ar"], "markdown": "' + "جدول الرسوم جدول الرسوم " * 20
    checked = check_reply(content, Reply(ReplyStatus.TRUNCATED, text=looping, finish_reason="length"), PAGE_TEXT)
    assert checked.outcome is Outcome.REPETITION_LOOP and "جدول الرسوم" in checked.errors
    # The page itself repeats the phrase as often: only cut off, not looping.
    page = "جدول الرسوم " * 40
    assert check_reply(content, Reply(ReplyStatus.TRUNCATED, text=looping), page).outcome is Outcome.TRUNCATED
    cut = '{"languages": ["ar"], "markdown": "# قانون رقم 12'
    assert check_reply(content, Reply(ReplyStatus.TRUNCATED, text=cut), PAGE_TEXT).outcome is Outcome.TRUNCATED
