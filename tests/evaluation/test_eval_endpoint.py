"""Live predictions with the real openai client against the local OpenAI-compatible stub."""

from __future__ import annotations

import json

import pytest

from pipeline import evaluate
from pipeline.evaluation.endpoint import EndpointConfig, predict_endpoint
from pipeline.evaluation.inputs import load_references, load_tasks
from pipeline.evaluation.report_assets import number
from tests.support.eval_fixtures import RECEIPT_PROMPT, receipt, write_page
from tests.support.provider_stub import Behaviour, ProviderStub, scripted


@pytest.fixture
def human_labels(tmp_path):
    rows = []
    for i, total in enumerate(["1.00", "2.00", "3.00"]):
        write_page(tmp_path / "pages" / f"r{i}.jpg", shade=100 + 20 * i)
        rows.append({"id": f"r{i}", "image": f"pages/r{i}.jpg", "task": "receipt", "reference": receipt(total)})
    path = tmp_path / "human.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def answer_by_page(request) -> Behaviour:
    """Answers the total the page's shade encodes, so each answer is tied to the image that was sent."""
    shade = {100: "1.00", 120: "2.00", 140: "9.99"}
    import cv2
    import numpy as np
    pixels = cv2.imdecode(np.frombuffer(request.image_bytes, np.uint8), cv2.IMREAD_GRAYSCALE)
    level = min(shade, key=lambda s: abs(s - int(pixels[0, 0])))
    return Behaviour.ok(receipt(shade[level]))


def test_guided_endpoint_sends_schema_and_rerun_hits_the_cache(tmp_path, human_labels, capsys):
    argv = ["--references", str(human_labels), "--endpoint", None, "--model", "student", "--guided",
            "--concurrency", "3", "--out", str(tmp_path / "eval"), "--json", "--no-report"]
    with ProviderStub(answer_by_page) as stub:
        argv[3] = stub.openai_url
        assert evaluate.main(argv) == 0
        first = json.loads(capsys.readouterr().out)
        assert len(stub.requests) == 3
        schema = load_tasks()["receipt"].schema_json
        for request in stub.requests:
            assert request.model == "student" and RECEIPT_PROMPT in request.prompt_text
            assert request.schema == schema
            assert request.body["structured_outputs"] == {"json": schema}
            assert request.image_bytes[:2] == b"\xff\xd8"           # the JPEG page itself
        assert evaluate.main(argv) == 0
        second = json.loads(capsys.readouterr().out)
        assert len(stub.requests) == 3                               # the rerun sent nothing
    assert first["endpoints"]["student"] == {"sent": 3, "cached": 0, "answered": 3, "failed": {}}
    assert second["endpoints"]["student"] == {"sent": 0, "cached": 3, "answered": 0, "failed": {}}
    assert second["systems"] == first["systems"]
    assert number(first["systems"]["student"]["metrics"]["exact"]) == pytest.approx(2 / 3)   # r2 answered 9.99


def test_unguided_request_has_no_schema(tmp_path, human_labels):
    items = load_references(human_labels, load_tasks()).items
    with ProviderStub(answer_by_page) as stub:
        predictions, stats = predict_endpoint(items[:1], EndpointConfig(stub.openai_url, "m"), load_tasks(),
                                              tmp_path / "cache.sqlite")
        assert stub.requests[0].schema is None and "structured_outputs" not in stub.requests[0].body
    assert json.loads(predictions["r0"]) == receipt("1.00") and stats.sent == 1


def test_transient_failures_are_retried(tmp_path, human_labels):
    items = load_references(human_labels, load_tasks()).items[:1]
    responder = scripted(Behaviour.status(503), Behaviour.status(429, retry_after=0),
                         then=Behaviour.ok(receipt("1.00")))
    with ProviderStub(responder) as stub:
        cfg = EndpointConfig(stub.openai_url, "m", backoff_base_s=0.01)
        predictions, stats = predict_endpoint(items, cfg, load_tasks(), tmp_path / "cache.sqlite")
        assert len(stub.requests) == 3
    assert stats.sent == 3 and stats.answered == 1 and predictions["r0"]
    with ProviderStub(scripted(then=Behaviour.status(500))) as stub:      # never recovers: counted, not raised
        cfg = EndpointConfig(stub.openai_url, "m", backoff_base_s=0.01, max_attempts=2)
        predictions, stats = predict_endpoint(items, cfg, load_tasks(), tmp_path / "other.sqlite")
        assert len(stub.requests) == 2
    assert predictions == {} and stats.failed == {"http_500": 1}


def test_rejected_key_exits_3(tmp_path, human_labels, capsys):
    with ProviderStub(scripted(then=Behaviour.status(401))) as stub:
        code = evaluate.main(["--references", str(human_labels), "--endpoint", stub.openai_url, "--model", "m",
                              "--out", str(tmp_path / "eval")])
    assert code == 3 and "OPENAI_COMPATIBLE_API_KEY" in capsys.readouterr().err


def test_transient_endpoint_failures_exit_1_and_a_rerun_sends_only_those(tmp_path, human_labels, capsys):
    def fails_on_the_second_page(request) -> Behaviour:
        answer = answer_by_page(request)
        return Behaviour.status(503) if '"2.00"' in answer.text else answer
    argv = ["--references", str(human_labels), "--endpoint", None, "--model", "m", "--max-attempts", "1",
            "--out", str(tmp_path / "eval"), "--no-report"]
    with ProviderStub(fails_on_the_second_page) as stub:
        argv[3] = stub.openai_url
        assert evaluate.main(argv) == 1
        assert "incomplete: endpoint requests failed for a transient reason (student http_503 1)" in \
            capsys.readouterr().err
    with ProviderStub(answer_by_page) as stub:
        argv[3] = stub.openai_url
        assert evaluate.main(argv) == 0
        assert len(stub.requests) == 1                               # the two answers are cached


def test_a_split_trained_with_a_system_prompt_is_asked_with_it(tmp_path):
    """build_dataset --system-prompt writes ``system`` into each record: the endpoint gets it, as in training."""
    write_page(tmp_path / "pages" / "r0.jpg", shade=100)
    record = {"conversations": [{"from": "human", "value": "<image>" + RECEIPT_PROMPT},
                                {"from": "gpt", "value": json.dumps(receipt("1.00"))}],
              "images": ["pages/r0.jpg"], "system": "You read Malaysian receipts."}
    split = tmp_path / "receipts_test.json"
    split.write_text(json.dumps([record, {**record, "system": ""}]))
    items = load_references(split, load_tasks()).items
    assert [item.system for item in items] == ["You read Malaysian receipts.", None]
    with ProviderStub(answer_by_page) as stub:
        predictions, stats = predict_endpoint(items, EndpointConfig(stub.openai_url, "m"), load_tasks(),
                                              tmp_path / "cache.sqlite")
        sent = sorted((r.body["messages"][0]["role"], r.body["messages"][0].get("content")) for r in stub.requests)
    assert stats.sent == 2 and len(predictions) == 2        # same image and prompt, two requests: the system differs
    assert sent[0] == ("system", "You read Malaysian receipts.") and sent[1][0] == "user"
