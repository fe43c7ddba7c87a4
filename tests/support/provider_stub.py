"""A local stand-in for the Gemini and OpenAI REST APIs, for tests and benchmarks.

The real SDK clients talk to it through their base URL, so what is tested is the SDKs' own
request building, error classes and retry behaviour, not a mock of them::

    with ProviderStub(scripted(Behaviour.status(429, retry_after=7))) as stub:
        teacher = make_teacher("gemini", TeacherSettings(base_url=stub.url))
        ...
        assert len(stub.requests) == 1

``stub.url`` is Gemini's base URL (the SDK appends ``/v1beta/models/...``); ``stub.openai_url``
is OpenAI's (the SDK appends ``/chat/completions``). Every request is recorded (``raw``: its body's
bytes as sent), and what each one gets back is decided by ``responder(request) -> Behaviour``.

Prompt caching, as each API reports it: a request whose prefix (response schema, then its parts in
order) repeats an earlier request's for 1,024+ tokens gets that prefix's tokens reported as cached
(OpenAI ``usage.prompt_tokens_details.cached_tokens``, in 128-token steps; Gemini
``usageMetadata.cachedContentTokenCount``). Tokens are counted as the stub counts them: a text part
is len // 4, an image 258 (Gemini) or 85 (OpenAI), the response schema len(its compact JSON) // 4:
both APIs bill the schema as input tokens, and OpenAI documents it as the cached prefix's start (the
stub caches it so for Gemini too; the bench counts Gemini's uncached, as nothing documents it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

_GEMINI_PATH = re.compile(r"^/v1beta/models/(?P<model>[^/:]+):generateContent$")
_OPENAI_PATH = "/v1/chat/completions"
_GRPC_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
_OPENAI_TYPE = {400: "invalid_request_error", 401: "invalid_request_error", 403: "invalid_request_error",
                404: "invalid_request_error", 429: "requests"}


def _b64decode(data: str) -> bytes:
    """Decode standard or URL-safe base64 (the Gemini SDK sends URL-safe)."""
    data = data.replace("+", "-").replace("/", "_")
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


@dataclass
class StubRequest:
    provider: str                  # "gemini" | "openai"
    path: str
    headers: dict[str, str]        # names in lower case
    body: dict
    model: str = ""
    raw: bytes = b""               # the body as it came over the wire
    usage: dict | None = None      # the usage the stub answered with (cached tokens included), once answered

    def prefix_units(self) -> list[tuple[str, str, int]]:
        """(kind, content, tokens) in the order a prompt cache reads them: the response schema, then each part."""
        units = [("schema", self.model + json.dumps(self.schema, sort_keys=True), self.schema_tokens)]
        image_tokens = 258 if self.provider == "gemini" else 85
        for part in self._parts():
            if isinstance(part.get("text"), str):
                units.append(("text", part["text"], len(part["text"]) // 4))
            elif "inlineData" in part:
                units.append(("image", part["inlineData"]["data"], image_tokens))
            elif part.get("type") == "image_url":
                units.append(("image", part["image_url"]["url"], image_tokens))
        return units

    def _parts(self) -> list[dict]:
        if self.provider == "gemini":
            return [p for c in self.body.get("contents", []) for p in c.get("parts", [])]
        parts: list[dict] = []
        for message in self.body.get("messages", []):
            content = message.get("content")
            parts.extend([{"type": "text", "text": content}] if isinstance(content, str) else content or [])
        return parts

    @property
    def prompt_text(self) -> str:
        return "\n".join(p["text"] for p in self._parts() if isinstance(p.get("text"), str))

    @property
    def schema_tokens(self) -> int:
        """Input tokens the response schema costs (0 without one)."""
        return len(json.dumps(self.schema, separators=(",", ":"))) // 4 if self.schema else 0

    @property
    def schema(self) -> dict | None:
        """The response schema the client asked for, or None."""
        if self.provider == "gemini":
            config = self.body.get("generationConfig") or {}
            return config.get("responseJsonSchema") or config.get("responseSchema")
        return ((self.body.get("response_format") or {}).get("json_schema") or {}).get("schema")

    @property
    def image_bytes(self) -> bytes | None:
        images = self.images
        return images[0] if images else None

    @property
    def images(self) -> list[bytes]:
        """Every image the request shows, in order."""
        found = []
        for part in self._parts():
            if "inlineData" in part:
                found.append(_b64decode(part["inlineData"]["data"]))
            elif part.get("type") == "image_url":
                found.append(_b64decode(part["image_url"]["url"].split(",", 1)[1]))
        return found


@dataclass(frozen=True)
class Behaviour:
    """What one request gets back; build it with the class methods."""

    kind: str
    text: str = ""
    code: int = 200
    retry_after: float | str | None = None
    retry_delay: str | None = None     # Gemini RetryInfo.retryDelay in the error body, e.g. "7s"
    message: str = ""
    seconds: float = 0.0

    @classmethod
    def ok(cls, obj_or_text: Any = None) -> Behaviour:
        text = obj_or_text if isinstance(obj_or_text, str) else json.dumps(
            {} if obj_or_text is None else obj_or_text, ensure_ascii=False)
        return cls("ok", text=text)

    @classmethod
    def malformed(cls, text: str = '{"languages": ["en"], "direction": ') -> Behaviour:
        return cls("ok", text=text)

    @classmethod
    def truncated(cls, text: str = '{"languages": ["en"], "markdown": "# Tit') -> Behaviour:
        return cls("truncated", text=text)

    @classmethod
    def safety(cls) -> Behaviour:
        return cls("safety")

    @classmethod
    def recitation(cls) -> Behaviour:
        return cls("recitation")

    @classmethod
    def refusal(cls, text: str = "I'm sorry, I can't help with that.") -> Behaviour:
        return cls("refusal", text=text)

    @classmethod
    def prompt_blocked(cls, reason: str = "SAFETY") -> Behaviour:
        return cls("prompt_blocked", text=reason)

    @classmethod
    def status(cls, code: int, retry_after: float | str | None = None, message: str | None = None,
               retry_delay: str | None = None) -> Behaviour:
        return cls("status", code=code, retry_after=retry_after, retry_delay=retry_delay,
                   message=message or f"stub error {code}")

    @classmethod
    def hang(cls, seconds: float, then: Any = None) -> Behaviour:
        """Sleep, then answer ``ok(then)``: for timeout tests."""
        return cls("hang", text=cls.ok(then).text, seconds=seconds)


Responder = Callable[[StubRequest], Behaviour]
PLACEHOLDER = re.compile(r"\[[A-Z_]+_\d+\]")


def seen_placeholders(request: StubRequest, read_image: bool = False) -> list[str]:
    """The privacy placeholders a teacher would see: in the prompt (anchor text) and, with ``read_image``,
    on the image (Tesseract reads it, as a vision model would), in order of first appearance."""
    found = PLACEHOLDER.findall(request.prompt_text.split("<text_layer>", 1)[-1])
    if read_image and request.image_bytes:
        import io

        import pytesseract
        from PIL import Image

        text = pytesseract.image_to_string(Image.open(io.BytesIO(request.image_bytes)), lang="eng")
        found += PLACEHOLDER.findall(re.sub(r"\s+", "", text).replace("][", "] ["))
    return list(dict.fromkeys(found))


def echo_placeholders(content: dict, metadata: dict, drop: int = 0, read_image: bool = False) -> Responder:
    """A teacher that transcribes every placeholder it sees into the content answer's markdown and
    elements (``drop``: leave the first ``drop`` out, as a sloppy teacher would)."""
    def responder(request: StubRequest) -> Behaviour:
        if "markdown" not in json.dumps(request.schema or {}):
            return Behaviour.ok(metadata)
        seen = seen_placeholders(request, read_image)[drop:]
        answer = json.loads(json.dumps(content))
        answer["markdown"] = "\n".join([answer["markdown"], *seen])
        answer["elements"] = answer["elements"] + [{"kind": "paragraph", "text": p} for p in seen]
        return Behaviour.ok(answer)
    return responder


class PrefixCache:
    """The tokens a provider's prompt cache serves a request: its longest prefix shared with an earlier
    request (whole units, then the common start of the first differing text), if ``min_tokens`` or more,
    rounded down to ``step``. Every request is remembered, hit or miss."""

    def __init__(self, min_tokens: int = 1024, step: int = 1):
        self.min_tokens, self.step = min_tokens, step
        self._seen: set[str] = set()                   # digests of every prefix of whole units seen
        self._texts: dict[str, list[str]] = {}         # prefix digest -> texts that followed it (a few)
        self._lock = threading.Lock()

    @staticmethod
    def _digest(before: str, kind: str, content: str) -> str:
        return hashlib.sha256(f"{before}\x00{kind}\x00{content}".encode()).hexdigest()

    def lookup(self, units: list[tuple[str, str, int]]) -> int:
        with self._lock:
            matched, digest = 0, ""
            for kind, content, tokens in units:
                key = self._digest(digest, kind, content)
                if key in self._seen:
                    matched, digest = matched + tokens, key
                    continue
                if kind == "text":
                    common = max((len(_common_start(content, t)) for t in self._texts.get(digest, [])), default=0)
                    matched += common // 4
                break
            digest = ""
            for kind, content, _ in units:
                if kind == "text" and len(self._texts.setdefault(digest, [])) < 8:
                    self._texts[digest].append(content)
                digest = self._digest(digest, kind, content)
                self._seen.add(digest)
        return matched // self.step * self.step if matched >= self.min_tokens else 0


def _common_start(a: str, b: str) -> str:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return a[:n]


def provider_caches(enabled: bool = True) -> dict[str, PrefixCache]:
    """One prompt cache per API, with its documented rule (or none that ever hits: ``enabled`` False)."""
    never = 1 << 60
    return {"openai": PrefixCache(1024 if enabled else never, 128),
            "gemini": PrefixCache(1024 if enabled else never, 1)}


def scripted(*behaviours: Behaviour, then: Behaviour | None = None) -> Responder:
    """Serve ``behaviours`` in order (each provider has its own queue), then ``then`` (default ok({}))."""
    queues: dict[str, deque[Behaviour]] = defaultdict(lambda: deque(behaviours))
    fallback = then or Behaviour.ok({})
    lock = threading.Lock()

    def responder(request: StubRequest) -> Behaviour:
        with lock:
            queue = queues[request.provider]
            return queue.popleft() if queue else fallback
    return responder


def _tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _gemini_reply(b: Behaviour, req: StubRequest, cached: int = 0) -> tuple[int, dict]:
    prompt_tokens = len(req.prompt_text) // 4 + 258 + req.schema_tokens    # 258: what Gemini charges for one image
    usage = {"promptTokenCount": prompt_tokens}
    if cached:                                           # Gemini leaves the field out when nothing was cached
        usage["cachedContentTokenCount"] = min(cached, prompt_tokens)
    if b.kind == "status":
        error: dict = {"code": b.code, "message": b.message, "status": _GRPC_STATUS.get(b.code, "UNKNOWN")}
        if b.retry_delay:
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": b.retry_delay}]
        return b.code, {"error": error}
    if b.kind == "prompt_blocked":
        return 200, {"promptFeedback": {"blockReason": b.text}, "usageMetadata": {**usage, "totalTokenCount":
                                                                                   prompt_tokens}}
    candidate: dict = {"index": 0}
    if b.kind in ("ok", "hang", "truncated"):
        candidate["content"] = {"role": "model", "parts": [{"text": b.text}]}
        candidate["finishReason"] = "MAX_TOKENS" if b.kind == "truncated" else "STOP"
    elif b.kind == "safety":
        candidate["finishReason"] = "SAFETY"
        candidate["safetyRatings"] = [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH",
                                       "blocked": True}]
    elif b.kind == "recitation":
        candidate["finishReason"] = "RECITATION"
    else:                                   # refusal: Gemini has none, answer with the text as it is
        candidate["content"] = {"role": "model", "parts": [{"text": b.text}]}
        candidate["finishReason"] = "STOP"
    usage["candidatesTokenCount"] = _tokens(b.text) if "content" in candidate else 0
    usage["totalTokenCount"] = prompt_tokens + usage["candidatesTokenCount"]
    return 200, {"candidates": [candidate], "usageMetadata": usage, "modelVersion": req.model}


def _openai_reply(b: Behaviour, req: StubRequest, cached: int = 0) -> tuple[int, dict]:
    if b.kind == "status":
        kind = _OPENAI_TYPE.get(b.code, "server_error")
        return b.code, {"error": {"message": b.message, "type": kind, "param": None, "code": str(b.code)}}
    content: str | None = b.text
    refusal, finish = None, "stop"
    if b.kind == "truncated":
        finish = "length"
    elif b.kind in ("safety", "recitation", "prompt_blocked"):
        content, finish = None, "content_filter"
    elif b.kind == "refusal":
        content, refusal = None, b.text
    prompt_tokens = len(req.prompt_text) // 4 + 85 + req.schema_tokens     # 85: a low-detail image tile
    completion_tokens = _tokens(content or refusal or "")
    return 200, {"id": f"chatcmpl-stub{int(time.time() * 1000)}", "object": "chat.completion",
                 "created": int(time.time()), "model": req.model,
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": refusal},
                              "logprobs": None, "finish_reason": finish}],
                 "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                           "total_tokens": prompt_tokens + completion_tokens,
                           "prompt_tokens_details": {"cached_tokens": min(cached, prompt_tokens), "audio_tokens": 0}}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False        # hanging handlers must not hold up exit
    request_queue_size = 128      # the default backlog of 5 drops connects under load: 1 s SYN retries


class ProviderStub:
    """Context manager: a threaded HTTP server on 127.0.0.1:<free port> speaking both APIs."""

    def __init__(self, responder: Responder | None = None, latency: float = 0.0, rpm_limit: float | None = None,
                 burst: float = 1.0, models: list[str] | None = None, caching: bool = True):
        """``latency``: seconds before each answer; ``rpm_limit``: requests per minute the stub accepts
        (a token bucket holding ``burst`` seconds' worth), past which it answers 429 with Retry-After;
        ``models``: what ``GET /v1/models`` lists (None: 404, a server without a model list);
        ``caching``: report cached prompt tokens as the APIs do (False: never a cache hit)."""
        self.responder = responder or (lambda request: Behaviour.ok({}))
        self.caches = provider_caches(caching)
        self.models = models
        self.model_lists = 0                   # GET /v1/models requests (not in .requests)
        self.latency = latency
        self.rpm_limit = rpm_limit
        self._bucket_size = max(1.0, (rpm_limit or 0) / 60.0 * burst)
        self._bucket = (self._bucket_size, time.monotonic())
        self.rejected = 0                      # requests answered 429 by the rpm limit
        self._requests: list[StubRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()     # wakes hanging handlers on exit
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        # A short poll interval: shutdown() waits for the serve loop's next poll (0.5 s by default).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="provider-stub", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    def _over_limit(self) -> float | None:
        """Seconds until the rpm limit admits a request, or None if this one is admitted (takes a token)."""
        if not self.rpm_limit:
            return None
        rate = self.rpm_limit / 60.0
        with self._lock:
            level, then = self._bucket
            now = time.monotonic()
            level = min(self._bucket_size, level + (now - then) * rate)
            if level >= 1.0:
                self._bucket = (level - 1.0, now)
                return None
            self._bucket = (level, now)
            self.rejected += 1
            return (1.0 - level) / rate

    @property
    def requests(self) -> list[StubRequest]:
        with self._lock:
            return list(self._requests)

    def __enter__(self) -> ProviderStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict, dict[str, str]]:
        path = handler.path.split("?", 1)[0]
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return 400, {"error": {"code": 400, "message": "body is not JSON"}}, {}
        headers = {name.lower(): value for name, value in handler.headers.items()}
        match = _GEMINI_PATH.match(path)
        if match:
            req = StubRequest("gemini", path, headers, body, match["model"], raw)
        elif path == _OPENAI_PATH:
            req = StubRequest("openai", path, headers, body, str(body.get("model", "")), raw)
        else:
            return 404, {"error": {"code": 404, "message": f"no route {path}", "status": "NOT_FOUND"}}, {}
        with self._lock:
            self._requests.append(req)
        wait = self._over_limit()
        if wait is not None:
            behaviour = Behaviour.status(429, retry_after=f"{wait:.3f}", message="stub rate limit")
            code, payload = (_gemini_reply if req.provider == "gemini" else _openai_reply)(behaviour, req)
            return code, payload, {"Retry-After": behaviour.retry_after}
        if self.latency:
            self._stopping.wait(self.latency)
        behaviour = self.responder(req)
        if behaviour.kind == "hang":
            self._stopping.wait(behaviour.seconds)
        cached = self.caches[req.provider].lookup(req.prefix_units())
        code, payload = (_gemini_reply if req.provider == "gemini" else _openai_reply)(behaviour, req, cached)
        req.usage = payload.get("usage") or payload.get("usageMetadata")
        headers = {"Retry-After": str(behaviour.retry_after)} if behaviour.retry_after is not None else {}
        return code, payload, headers

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"        # keep-alive, as the real APIs do
            disable_nagle_algorithm = True       # headers and body go out as two writes: no 40 ms stall

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                code, payload, headers = stub._handle(self)
                data = json.dumps(payload, ensure_ascii=False).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass                         # the client gave up (a timeout test): nothing to do

            def do_GET(self) -> None:  # noqa: N802
                with stub._lock:
                    stub.model_lists += 1
                if self.path.split("?", 1)[0] == "/v1/models" and stub.models is not None:
                    code, payload = 200, {"object": "list", "data": [{"id": m, "object": "model", "created": 0,
                                                                      "owned_by": "owner"} for m in stub.models]}
                else:
                    code, payload = 404, {"error": {"message": f"no route {self.path}", "type": "not_found"}}
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
