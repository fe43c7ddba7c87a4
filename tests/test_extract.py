"""python -m pipeline.extract against the local OpenAI-compatible stub, with the real openai client."""

from __future__ import annotations

import hashlib
import json
import socket

import cv2
import numpy as np
import pytest

from pipeline import extract
from pipeline.dataset.sharegpt import resized_copy
from pipeline.store import RunStore
from pipeline.tasks import resolve_tasks
from tests.conftest import make_pdf
from tests.label.test_label import CONTENT
from tests.support.provider_stub import Behaviour, ProviderStub
from tests.support.student_fixtures import SYSTEM_PROMPT, by_task, make_dataset, manifest


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("trained"), "--max-image-side", "96", "--system-prompt", SYSTEM_PROMPT)


@pytest.fixture
def pdfs(tmp_path):
    """Documents the dataset never saw: one in a subfolder, one copy of it, one that is not a PDF."""
    make_pdf(tmp_path / "new" / "leases" / "unit 4.pdf", pages=2, text="Lease of unit 4")
    make_pdf(tmp_path / "new" / "deed.pdf", pages=1, text="Deed 1971")
    (tmp_path / "new" / "copies").mkdir()
    (tmp_path / "new" / "copies" / "deed copy.pdf").write_bytes((tmp_path / "new" / "deed.pdf").read_bytes())
    (tmp_path / "new" / "notes.pdf").write_text("not a pdf")
    return tmp_path / "new"


def run(capsys, pdfs, out, url, *args):
    code = extract.main([str(pdfs), "--out", str(out), "--endpoint", url, "--model", "student", "--no-progress",
                         "--json", *args])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else None), captured.err


def test_student_request_is_the_training_record_and_a_rerun_sends_nothing(tmp_path, dataset, pdfs, capsys):
    records = json.loads((dataset / "docdistill_train.json").read_text())
    human_turns = {r["conversations"][0]["value"] for r in records}
    assert {r["system"] for r in records} == {SYSTEM_PROMPT}
    with ProviderStub(by_task, models=["student"]) as stub:
        code, summary, err = run(capsys, pdfs, tmp_path / "out", stub.openai_url, "--dataset", str(dataset))
        assert code == 0, err
        assert len(stub.requests) == 3 * 2 and stub.model_lists == 1      # 3 pages x 2 tasks, one model check
        store = RunStore(tmp_path / "out")
        rendered = {p.image_sha256: p for p in store.iter_pages()}
        for request in stub.requests:
            system, user = request.body["messages"]
            assert system == {"role": "system", "content": SYSTEM_PROMPT}
            assert [p["type"] for p in user["content"]] == ["image_url", "text"]
            assert "<image>" + user["content"][1]["text"] in human_turns            # the human turn, minus <image>
            assert request.model == "student" and request.schema is None and request.body["temperature"] == 0
            image = request.image_bytes                                          # the 96-px copy build_dataset makes
            assert image[:2] == b"\xff\xd8" and max(cv2.imdecode(np.frombuffer(image, np.uint8), 0).shape) == 96
            page = next(p for p in rendered.values()
                        if resized_copy(cv2.imread(str(tmp_path / "out" / p.image_path), cv2.IMREAD_UNCHANGED),
                                        96, ".jpg") == image)
            assert page.render_key == manifest(dataset)["student"]["render"]["key"]
        store.close()
        code, again, err = run(capsys, pdfs, tmp_path / "out", stub.openai_url, "--dataset", str(dataset))
        assert code == 0 and len(stub.requests) == 6 and stub.model_lists == 1   # nothing sent, not even the check
    assert again["label"]["requests"] == 0 and again["label"]["up_to_date"] == 6
    outputs = summary["outputs"]
    assert outputs["outcomes"] == {"(document)": {"document_skipped": 1}, "content": {"ok": 3}, "metadata": {"ok": 3}}
    assert again["outputs"]["outcomes"] == outputs["outcomes"] and summary["student"]["warnings"] == []
    docs = tmp_path / "out" / "docs"
    assert sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.*")) == [   # the copy: written once
        "copies/deed copy.pdf.json", "copies/deed copy.pdf.md", "leases/unit 4.pdf.json", "leases/unit 4.pdf.md",
        "notes.pdf.json"]
    deed = json.loads((docs / "copies" / "deed copy.pdf.json").read_text())
    assert deed["source"] == "copies/deed copy.pdf" and deed["other_paths"] == ["deed.pdf"]
    assert deed["doc_id"] == hashlib.sha256((pdfs / "deed.pdf").read_bytes()).hexdigest()
    assert deed["pages"][0]["answers"]["content"]["answer"] == CONTENT
    lease_md = (docs / "leases" / "unit 4.pdf.md").read_text()
    assert lease_md.index("<!-- page 1 -->") < lease_md.index("<!-- page 2 -->") and "# Invoice 42" in lease_md
    lines = [json.loads(x) for x in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 3 * 2 + 1 and {x["outcome"] for x in lines} == {"ok", "document_skipped"}
    assert summary["retry"] and "--retry-failed" in summary["retry"]


def test_failures_are_recorded_by_outcome_with_the_retry_command(tmp_path, dataset, pdfs, capsys):
    content, metadata = resolve_tasks(["content", "metadata"])
    looping = '{"languages": ["en"], "markdown": "' + "| 0.00 | 0.00 " * 30

    def answers(request):
        page_two = hashlib.sha256(request.image_bytes).hexdigest() == second_page[0]
        if content.student_prompt in request.prompt_text:
            return Behaviour.truncated(looping) if page_two else Behaviour.ok({**CONTENT, "direction": "up"})
        return Behaviour.truncated() if page_two else Behaviour.malformed("I cannot read this page")

    second_page = [None]
    with ProviderStub(answers, models=["student"]) as stub:
        code, _, err = run(capsys, pdfs, tmp_path / "out", stub.openai_url, "--dataset", str(dataset),
                           "--max-attempts", "1", "--task", "content")          # render, and learn page 2's image
        with RunStore(tmp_path / "out") as store:
            page = next(p for p in store.iter_pages() if p.page_index == 1)
            second_page[0] = hashlib.sha256(resized_copy(cv2.imread(str(tmp_path / "out" / page.image_path),
                                                                    cv2.IMREAD_UNCHANGED), 96, ".jpg")).hexdigest()
        code, summary, err = run(capsys, pdfs, tmp_path / "out", stub.openai_url, "--dataset", str(dataset),
                                 "--max-attempts", "1", "--retry-failed")
        assert code == 0, err
    outcomes = summary["outputs"]["outcomes"]
    assert outcomes["content"] == {"invalid": 2, "repetition_loop": 1}
    assert outcomes["metadata"] == {"malformed_json": 2, "truncated": 1}
    failures = {(f["source"], f["page"], f["task"]): f for f in summary["outputs"]["failures"]}
    assert "direction" in failures[("copies/deed copy.pdf", 1, "content")]["reason"]
    assert "0.00" in failures[("leases/unit 4.pdf", 2, "content")]["reason"]
    assert set(summary["advice"]) == {"invalid", "malformed_json", "truncated", "repetition_loop", "document_skipped"}
    assert summary["retry"].endswith("--retry-failed") and "--json" not in summary["retry"]
    deed = tmp_path / "out" / "docs" / "copies" / "deed copy.pdf.json"
    entry = json.loads(deed.read_text())["pages"][0]["answers"]["metadata"]
    assert entry["outcome"] == "malformed_json" and entry["raw_text"] == "I cannot read this page"
    assert not deed.with_suffix(".md").exists()                            # no page has markdown


def test_a_public_endpoint_is_refused_before_anything_is_written(tmp_path, dataset, pdfs, capsys):
    for url in ("https://8.8.8.8/v1", "http://[2a00:1450:4001::1]:8000/v1"):
        code, _, err = run(capsys, pdfs, tmp_path / "out", url, "--dataset", str(dataset))
        assert code == 2 and "--allow-remote-endpoint" in err and "public address" in err
    assert not (tmp_path / "out").exists()


def test_a_name_resolving_to_a_public_address_is_refused(tmp_path, dataset, pdfs, capsys, monkeypatch):
    real = socket.getaddrinfo

    def resolve(host, *args, **kw):
        if host == "student.internal":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("34.117.59.81", 8000))]
        return real(host, *args, **kw)
    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    code, _, err = run(capsys, pdfs, tmp_path / "out", "http://student.internal:8000/v1", "--dataset", str(dataset))
    assert code == 2 and "34.117.59.81" in err


def test_the_served_model_name_is_checked_before_sending(tmp_path, dataset, pdfs, capsys):
    with ProviderStub(by_task, models=["gpt-3.5-turbo"]) as stub:              # llamafactory-cli api's default name
        code, _, err = run(capsys, pdfs, tmp_path / "out", stub.openai_url, "--dataset", str(dataset))
        assert code == 3 and "API_MODEL_NAME=student" in err and stub.requests == []
    assert (tmp_path / "out" / "docs" / "deed.pdf.json").is_file() or \
        (tmp_path / "out" / "docs" / "copies" / "deed copy.pdf.json").is_file()   # outputs show what there is
    with socket.socket() as sock:                                          # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, _, err = run(capsys, pdfs, tmp_path / "out", f"http://127.0.0.1:{port}/v1", "--dataset", str(dataset),
                       "--timeout", "5")
    assert code == 3 and "nothing answers" in err and "API_VERBOSE=0" in err


def test_proxy_variables_are_not_honoured(tmp_path, dataset, pdfs, capsys, monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")                     # a proxy would take the pages elsewhere
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with ProviderStub(by_task) as stub:                                    # no model list: sent anyway
        code, summary, err = run(capsys, pdfs, tmp_path / "out", stub.openai_url, "--dataset", str(dataset),
                                 "--task", "metadata", "--guided")
        assert code == 0, err
        assert len(stub.requests) == 3 and all(r.schema for r in stub.requests)
        assert all(r.body["structured_outputs"]["json"] == r.schema for r in stub.requests)
    assert summary["outputs"]["outcomes"]["metadata"] == {"ok": 3}


def test_render_overrides_warn_and_key_the_requests_anew(tmp_path, dataset, pdfs, capsys):
    broken = [False]                               # the second run's answers are all of the wrong shape

    def answers(request):
        return Behaviour.ok({"markdown": 1}) if broken[0] else by_task(request)
    with ProviderStub(answers, models=["student"]) as stub:
        code, first, _ = run(capsys, pdfs, tmp_path / "out", stub.openai_url, "--dataset", str(dataset))
        broken[0] = True
        code, second, _ = run(capsys, pdfs, tmp_path / "out", stub.openai_url, "--dataset", str(dataset),
                              "--longest-side", "400", "--max-attempts", "1")
        assert code == 0 and len(stub.requests) == 12
    assert any("--longest-side 400" in w and "never saw" in w for w in second["student"]["warnings"])
    assert second["render"]["pages"]["rendered"] == 3
    assert second["student"]["render_key"] != first["student"]["render_key"]
    # The outputs are this run's answers, not the earlier valid ones made from other images.
    assert second["outputs"]["outcomes"]["content"] == {"invalid": 3}
    with RunStore(tmp_path / "out") as store:
        assert sum(1 for label in store.iter_labels(task="content")) == 6   # the earlier ones are kept
