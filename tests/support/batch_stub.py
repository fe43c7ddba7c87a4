"""A local stand-in for the OpenAI Batch API and Gemini Batch Mode, speaking their real REST shapes.

The real SDK clients talk to it through their base URL (``stub.openai_url``, ``stub.url``):

- OpenAI: ``POST /v1/files`` (multipart, purpose=batch), ``POST /v1/batches``,
  ``GET /v1/batches/{id}``, ``GET /v1/files/{id}/content`` (output and error JSONL files);
- Gemini: ``POST /v1beta/models/{model}:batchGenerateContent`` (an operation whose metadata is the
  GenerateContentBatch), ``GET /v1beta/batches/{id}`` (``metadata.output.inlinedResponses``).

Jobs stay pending until ``finish()`` (or ``finish_after_polls`` reads of the job); then every
request inside is answered by ``responder(StubRequest) -> Behaviour``, exactly as the online stub
answers (cached prompt tokens reported the same way), so the same scripts drive both. ``Behaviour("expired")`` leaves a request unanswered.
Listing (``GET /v1/batches``, ``GET /v1beta/batches``) finds jobs by name after a lost answer:
``lose_creates=n`` creates the next n jobs but drops the connection instead of answering, and
``refuse_creates=n`` answers the next n create calls with a 500 (no job created).
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler

from tests.support.provider_stub import (_GRPC_STATUS, Behaviour, Responder, StubRequest, _gemini_reply, _openai_reply,
                                         _Server, provider_caches)

_GEMINI_CREATE = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):batchGenerateContent$")
_GEMINI_GET = re.compile(r"^/v1beta/batches/(?P<id>[^/:]+)$")
_OPENAI_BATCH = re.compile(r"^/v1/batches/(?P<id>[^/]+)$")
_OPENAI_CONTENT = re.compile(r"^/v1/files/(?P<id>[^/]+)/content$")
_RPC_CODE = {400: 3, 403: 7, 404: 5, 429: 8, 500: 13, 503: 14, 504: 4}


def _multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    """Form fields of a multipart/form-data body, name -> bytes."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
            for part in message.iter_parts()}


class BatchStub:
    """Context manager: a threaded HTTP server on 127.0.0.1:<free port> with both Batch APIs."""

    def __init__(self, responder: Responder | None = None, finish_after_polls: int | None = None,
                 lose_creates: int = 0, refuse_creates: int = 0):
        self.responder = responder or (lambda request: Behaviour.ok({}))
        self.caches = provider_caches()      # requests inside a job hit the prompt cache as online ones do
        self.finish_after_polls = finish_after_polls
        self.lose_creates, self.refuse_creates = lose_creates, refuse_creates
        self.calls: list[tuple[str, str]] = []          # (method, path) of every HTTP call
        self.answered: list[StubRequest] = []           # every request answered inside a job
        self.files: dict[str, bytes] = {}
        self.openai_jobs: dict[str, dict] = {}
        self.gemini_jobs: dict[str, dict] = {}
        self._polls: dict[str, int] = {}
        self._ids = (f"{secrets.token_hex(3)}{n}" for n in itertools.count(1))   # unique across stubs, as real ids
        self._lock = threading.RLock()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="batch-stub", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    def posts(self) -> int:
        return sum(1 for method, _ in self.calls if method == "POST")

    def __enter__(self) -> BatchStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- answering the jobs ------------------------------------------------------------
    def finish(self, failed: bool = False) -> None:
        """Answer every pending job of both providers (``failed``: fail them whole, as a bad input file does)."""
        with self._lock:
            for job_id in list(self.openai_jobs):
                self._fail_openai(job_id) if failed else self._finish_openai(job_id)
            for job_id in list(self.gemini_jobs):
                self._fail_gemini(job_id) if failed else self._finish_gemini(job_id)

    def _fail_openai(self, job_id: str) -> None:
        job = self.openai_jobs[job_id]
        if job["status"] == "in_progress":
            job.update(status="failed", failed_at=int(time.time()), errors={"object": "list", "data": [
                {"code": "invalid_json_line", "message": "stub: the input file was rejected", "line": 1}]})

    def _fail_gemini(self, job_id: str) -> None:
        job = self.gemini_jobs[job_id]
        if job["metadata"]["state"] == "BATCH_STATE_PENDING":
            job["metadata"].update(state="BATCH_STATE_FAILED", endTime=_now())
            job.update(done=True, error={"code": 3, "message": "stub: the batch was rejected"})

    def _answer(self, provider: str, body: dict, model: str) -> tuple[StubRequest, Behaviour]:
        request = StubRequest(provider, "(batch)", {}, body, model)
        self.answered.append(request)
        return request, self.responder(request)

    def _finish_openai(self, job_id: str) -> None:
        job = self.openai_jobs[job_id]
        if job["status"] != "in_progress":
            return
        output, errors = [], []
        for line in self.files[job["input_file_id"]].decode().splitlines():
            item = json.loads(line)
            request, b = self._answer("openai", item["body"], item["body"].get("model", ""))
            row = {"id": f"batch_req_{next(self._ids)}", "custom_id": item["custom_id"], "error": None}
            if b.kind == "expired":
                errors.append({**row, "response": None, "error": {
                    "code": "batch_expired", "message": "This request could not be executed before the "
                                                        "completion window expired."}})
                continue
            code, payload = _openai_reply(b, request, self.caches["openai"].lookup(request.prefix_units()))
            request.usage = payload.get("usage")
            row["response"] = {"status_code": code, "request_id": f"req_{next(self._ids)}", "body": payload}
            (output if code == 200 else errors).append(row)
        for name, rows in (("output_file_id", output), ("error_file_id", errors)):
            if rows:
                file_id = f"file-{next(self._ids)}"
                self.files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                job[name] = file_id
        now = int(time.time())
        job.update(status="completed", completed_at=now, finalizing_at=now,
                   request_counts={"total": len(output) + len(errors), "completed": len(output),
                                   "failed": len(errors)})

    def _finish_gemini(self, job_id: str) -> None:
        job = self.gemini_jobs[job_id]
        if job["metadata"]["state"] != "BATCH_STATE_PENDING":
            return
        answers = []
        for item in job["requests"]:
            request, b = self._answer("gemini", item["request"], job["model"])
            answer = {"metadata": item.get("metadata") or {}}
            if b.kind == "expired":
                continue
            code, payload = _gemini_reply(b, request, self.caches["gemini"].lookup(request.prefix_units()))
            request.usage = payload.get("usageMetadata")
            if code == 200:
                answer["response"] = payload
            else:
                answer["error"] = {"code": _RPC_CODE.get(code, 2), "message": payload["error"]["message"]}
            answers.append(answer)
        output = {"inlinedResponses": {"inlinedResponses": answers}}
        job["metadata"].update(state="BATCH_STATE_SUCCEEDED", output=output, endTime=_now(),
                               batchStats={"requestCount": str(len(job["requests"])),
                                           "successfulRequestCount": str(len(answers))})
        job["done"] = True
        job["response"] = {"@type": "type.googleapis.com/google.ai.generativelanguage.v1beta."
                                    "GenerateContentBatchOutput", **output}

    def _polled(self, job_id: str) -> None:
        self._polls[job_id] = self._polls.get(job_id, 0) + 1
        if self.finish_after_polls is not None and self._polls[job_id] >= self.finish_after_polls:
            self.finish()

    # -- routes ------------------------------------------------------------------------
    def _route(self, method: str, path: str, headers: dict, raw: bytes) -> tuple[int, dict | bytes]:
        with self._lock:
            self.calls.append((method, path))
            creating = method == "POST" and (path == "/v1/batches" or _GEMINI_CREATE.match(path))
            if creating and self.refuse_creates:
                self.refuse_creates -= 1
                return 500, {"error": {"code": 500, "message": "stub: try again later", "status": "INTERNAL",
                                       "type": "server_error"}}
            code, payload = self._answer_route(method, path, headers, raw)
            if creating and self.lose_creates and code == 200:
                self.lose_creates -= 1
                return 0, b""                # created, but the answer never reaches the client
            return code, payload

    def _answer_route(self, method: str, path: str, headers: dict, raw: bytes) -> tuple[int, dict | bytes]:
        if method == "POST" and path == "/v1/files":
            fields = _multipart(headers.get("content-type", ""), raw)
            file_id = f"file-{next(self._ids)}"
            self.files[file_id] = fields["file"]
            return 200, {"id": file_id, "object": "file", "bytes": len(fields["file"]),
                         "created_at": int(time.time()), "filename": "batch.jsonl",
                         "purpose": fields["purpose"].decode(), "status": "processed"}
        if method == "POST" and path == "/v1/batches":
            body = json.loads(raw)
            if body.get("input_file_id") not in self.files:
                return 400, {"error": {"message": "no such file", "type": "invalid_request_error"}}
            job_id = f"batch_{next(self._ids)}"
            self.openai_jobs[job_id] = {
                "id": job_id, "object": "batch", "endpoint": body["endpoint"], "errors": None,
                "input_file_id": body["input_file_id"], "completion_window": body["completion_window"],
                "status": "in_progress", "output_file_id": None, "error_file_id": None,
                "created_at": int(time.time()), "metadata": body.get("metadata"),
                "request_counts": {"total": 0, "completed": 0, "failed": 0}}
            return 200, self.openai_jobs[job_id]
        if method == "GET" and path == "/v1/batches":          # newest first, as the API lists them
            data = sorted(self.openai_jobs.values(), key=lambda j: j["created_at"], reverse=True)
            return 200, {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                         "last_id": data[-1]["id"] if data else None, "has_more": False}
        if method == "GET" and path == "/v1beta/batches":
            return 200, {"operations": [_operation(j) for j in reversed(list(self.gemini_jobs.values()))]}
        if method == "GET" and (match := _OPENAI_BATCH.match(path)) and match["id"] in self.openai_jobs:
            self._polled(match["id"])
            return 200, self.openai_jobs[match["id"]]
        if method == "GET" and (match := _OPENAI_CONTENT.match(path)) and match["id"] in self.files:
            return 200, self.files[match["id"]]
        if method == "POST" and (match := _GEMINI_CREATE.match(path)):
            batch = json.loads(raw)["batch"]
            name = f"batches/stub{next(self._ids)}"
            requests = batch["inputConfig"]["requests"]["requests"]
            self.gemini_jobs[name.split("/")[1]] = job = {
                "name": name, "model": match["model"], "requests": requests, "metadata": {
                    "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatch",
                    "name": name, "model": f"models/{match['model']}", "displayName": batch.get("displayName"),
                    "state": "BATCH_STATE_PENDING", "createTime": _now(), "updateTime": _now(),
                    "batchStats": {"requestCount": str(len(requests))}}}
            return 200, _operation(job)
        if method == "GET" and (match := _GEMINI_GET.match(path)) and match["id"] in self.gemini_jobs:
            self._polled(match["id"])
            return 200, _operation(self.gemini_jobs[match["id"]])
        return 404, {"error": {"code": 404, "message": f"no route {method} {path}", "status": _GRPC_STATUS[404]}}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                code, payload = stub._route(method, self.path.split("?", 1)[0], headers, raw)
                if code == 0:
                    self.close_connection = True
                    return
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/octet-stream" if isinstance(payload, bytes)
                                 else "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _operation(job: dict) -> dict:
    """A batch as Gemini's REST returns it: a long-running operation whose metadata is the batch."""
    out = {"name": job["name"], "metadata": job["metadata"]}
    if job.get("error"):
        out.update(done=True, error=job["error"])
    elif job.get("done"):
        out.update(done=True, response=job["response"])
    return out
