"""A pass-through HTTP proxy on 127.0.0.1 that keeps a copy of every request it forwards.

Put between a client and a real server (``llamafactory-cli api``) to see exactly what the server was
sent, without turning on the server's own request logging::

    with RecordingProxy("http://127.0.0.1:8000") as proxy:
        ... client talks to proxy.url + "/v1" ...
        proxy.requests[0].image_bytes
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.provider_stub import StubRequest

_HOP_HEADERS = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "accept-encoding"}


class RecordingProxy:
    def __init__(self, upstream: str, timeout: float = 600.0):
        self.upstream, self.timeout = upstream.rstrip("/"), timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))   # no proxy variables
        self._lock = threading.Lock()
        self._requests: list[StubRequest] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[StubRequest]:
        with self._lock:
            return list(self._requests)

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str]:
        if body:
            with self._lock:
                self._requests.append(StubRequest("openai", path, headers, json.loads(body),
                                                  str(json.loads(body).get("model", ""))))
        sent = {k: v for k, v in headers.items() if k not in _HOP_HEADERS}
        request = urllib.request.Request(self.upstream + path, data=body or None, headers=sent, method=method)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.status, response.read(), response.headers.get("Content-Type", "application/json")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers.get("Content-Type", "application/json")
        except (urllib.error.URLError, OSError) as exc:
            return 502, json.dumps({"error": {"message": f"upstream: {exc}"}}).encode(), "application/json"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                code, data, kind = proxy.forward(self.command, self.path, headers, body)
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _relay

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
