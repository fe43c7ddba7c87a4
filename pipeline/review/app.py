"""The review app's HTTP side (Starlette): the page, its assets, the item and verdict API, the images.

Only this machine may use it: the server binds 127.0.0.1, a Host header other than 127.0.0.1 or
localhost is refused (a DNS-rebinding page cannot reach it) and every request needs the random
token of the printed URL (the page's first load turns it into a same-site cookie; API calls send
it as a header too). Endpoints are plain functions, which Starlette runs in its thread pool; each
thread opens its own run store connection once (SQLite connections are per thread, WAL lets the
readers run beside the one writer).
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from pipeline.errors import ReviewConflict
from pipeline.review.forms import validation_errors
from pipeline.review.items import ReviewSession, VerdictRefused, progress
from pipeline.store import RunStore

ALLOWED_HOSTS = ("127.0.0.1", "localhost")
TOKEN_COOKIE = "docdistill_review"
STATIC = {"review.js": "text/javascript", "review.css": "text/css", "markdown.js": "text/javascript",
          "form.js": "text/javascript"}
_NO_STORE = {"Cache-Control": "no-store"}


class ThreadStores:
    """One RunStore per thread, opened on the thread's first request; all closed at shutdown."""

    def __init__(self, run_dir: Path, opener=RunStore):
        self.run_dir, self.opener = run_dir, opener
        self._local = threading.local()
        self._all: list[RunStore] = []
        self._lock = threading.Lock()

    def get(self) -> RunStore:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = self.opener(self.run_dir)
            with self._lock:
                self._all.append(store)
        return store

    def close(self) -> None:
        with self._lock:
            for store in self._all:
                try:
                    store.close()
                except sqlite3.ProgrammingError:   # opened by a pool thread: it closes when the process ends
                    pass
            self._all.clear()


class TokenGate:
    """ASGI middleware: 403 unless the request carries the token (query, header or cookie)."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request = Request(scope)
        given = request.query_params.get("token") or request.headers.get("x-review-token") \
            or request.cookies.get(TOKEN_COOKIE) or ""
        if not secrets.compare_digest(given.encode(), self.token.encode()):
            response = PlainTextResponse("403: this review page needs the token of the URL printed by "
                                         "python -m pipeline.review", status_code=403)
            return await response(scope, receive, send)
        if request.method == "POST" and request.headers.get("x-review-token") != self.token:
            response = PlainTextResponse("403: a change needs the token header the page sends", status_code=403)
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)


def _static(name: str) -> bytes:
    return resources.files("pipeline.review").joinpath("static", name).read_bytes()


def create_app(run_dir: Path, session: ReviewSession, token: str, stores: ThreadStores | None = None) -> Starlette:
    stores = stores or ThreadStores(run_dir)
    index = _static("index.html").decode("utf-8")

    def page(request: Request) -> Response:
        response = Response(index.replace("{{TOKEN}}", token), media_type="text/html", headers=_NO_STORE)
        response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return PlainTextResponse("not found", status_code=404)
        return Response(_static(name), media_type=STATIC[name])

    def item(request: Request) -> Response:
        store, params = stores.get(), request.query_params
        try:
            queue = params["queue"]
            row = _find(store, queue, params)
        except (KeyError, ValueError):
            return JSONResponse({"error": "give queue and one of position, after, before (numbers)"}, 400)
        if row is None:
            return JSONResponse({"item": None, "progress": progress(store)}, headers=_NO_STORE)
        return JSONResponse({"item": session.item(store, row)}, headers=_NO_STORE)

    async def validate(request: Request) -> Response:
        body = await request.json()
        form = session.forms.get(tuple(str(body.get("task_key", "")).split(":", 1))) \
            or session.by_name.get(body.get("task"))
        if form is None:
            return JSONResponse({"errors": [{"loc": "", "msg": "unknown task"}]}, 400)
        _, errors = validation_errors(form.model, body.get("label"))
        return JSONResponse({"errors": errors})

    async def verdict(request: Request) -> Response:
        body = await request.json()
        return await run_in_threadpool(_decide, body)

    def _decide(body: dict) -> Response:
        store = stores.get()
        try:
            row = store.review_item(str(body.get("queue")), int(body.get("position")))
        except (TypeError, ValueError):
            row = None
        if row is None:
            return JSONResponse({"error": "no such item"}, 404)
        try:
            return JSONResponse(session.decide(store, row, body))
        except VerdictRefused as exc:
            return JSONResponse({"error": str(exc), "errors": exc.errors}, 422)
        except ReviewConflict as exc:
            return JSONResponse({"error": str(exc), "current": exc.current, "conflict": True}, 409)

    def image(request: Request) -> Response:
        store = stores.get()
        try:
            row = store.page_row(request.path_params["doc_id"], int(request.path_params["page_index"]))
        except ValueError:
            row = None
        if row is None or not row["image_path"]:
            return PlainTextResponse("no such page", status_code=404)
        path = (run_dir / row["image_path"]).resolve()
        if not path.is_relative_to(run_dir.resolve()) or not path.is_file():
            return PlainTextResponse(f"the page image {row['image_path']} is missing from the run folder", 404)
        return FileResponse(path)

    routes = [Route("/", page), Route("/static/{name}", static), Route("/api/item", item),
              Route("/api/validate", validate, methods=["POST"]), Route("/api/verdict", verdict, methods=["POST"]),
              Route("/image/{doc_id}/{page_index}", image)]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(ALLOWED_HOSTS)),
                  Middleware(TokenGate, token=token)]

    @asynccontextmanager
    async def lifespan(app):
        yield
        stores.close()

    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.stores = stores
    return app


def _find(store: RunStore, queue: str, params):
    """The item asked for: at ``position``, the next to decide ``after`` one (then in later queues),
    or the one ``before``."""
    if "position" in params:
        return store.review_item(queue, int(params["position"]))
    if "before" in params:
        return store.previous_review_item(queue, int(params["before"]))
    after = int(params["after"])
    row = store.next_review_item(queue, after)
    if row is None:
        later = [r["queue"] for r in store.review_progress()]
        for name in later[later.index(queue) + 1:] if queue in later else later:
            row = store.next_review_item(name, -1)
            if row is not None:
                break
    return row
