"""Gemini teacher: google-genai's ``generate_content`` with a JSON response schema.

The SDK's own retries are switched off: the label stage's retry layer owns retrying, so a 429
or a 5xx is reported once, as a Reply, and counted once against the rate limit.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import re
import sys
import threading

import httpx2
from google import genai
from google.genai import errors, types

from pipeline.tasks import Task
from pipeline.teachers.base import (PageInput, Reply, ReplyStatus, Teacher, TeacherFatalError, TeacherSettings,
                                    register)
from pipeline.teachers.gemini_reply import reply_from_response
from pipeline.teachers.http import retry_after_s

# google-genai 3.x sends through httpx2 (a fork of httpx under its own name; GOOGLE_GENAI_HTTP_CLIENT=httpx
# switches to httpx where that is installed), 2.x through httpx. Their exceptions are unrelated classes,
# so catch both. httpx is never imported here (a base install does not have it): an SDK that sends
# through it has imported it already.
_HTTP_MODULES = [m for m in (httpx2, sys.modules.get("httpx")) if m is not None]
_TIMEOUT_ERRORS = tuple(m.TimeoutException for m in _HTTP_MODULES)
_TRANSPORT_ERRORS = tuple(m.TransportError for m in _HTTP_MODULES)   # connect refused, reset, protocol

def _retry_after(exc: errors.APIError) -> float | None:
    """Seconds to wait from a 429: the Retry-After header, else the body's RetryInfo.retryDelay ("7s")."""
    found = retry_after_s(getattr(getattr(exc, "response", None), "headers", None))
    if found is not None:
        return found
    body = exc.details if isinstance(exc.details, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    for item in error.get("details") or []:
        match = re.fullmatch(r"([\d.]+)s", str(item.get("retryDelay", ""))) if isinstance(item, dict) else None
        if match:
            return float(match[1])
    return None


def gemini_image_tokens(width: int, height: int) -> int:
    """Gemini: an image with both sides <= 384 px is 258 tokens, else 258 per 768x768 tile.

    >>> gemini_image_tokens(300, 200)
    258
    >>> gemini_image_tokens(1086, 1536)   # an A4 page at the default 1536 px: 2 x 2 tiles
    1032
    """
    if width <= 384 and height <= 384:
        return 258
    return math.ceil(width / 768) * math.ceil(height / 768) * 258


def _sdk_http_module():
    """The HTTP library (httpx2 or httpx) the installed google-genai sends through."""
    if int(importlib.metadata.version("google-genai").split(".")[0]) < 3:
        name = "httpx"
    else:
        name = os.environ.get("GOOGLE_GENAI_HTTP_CLIENT", "").strip().lower() or "httpx2"
    return next((m for m in _HTTP_MODULES if m.__name__ == name), httpx2)


@register
class GeminiTeacher(Teacher):
    name = "gemini"
    default_model = "gemini-2.5-flash"
    api_key_env = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    is_cloud = True
    has_batch_api = True
    combines_tasks = True
    structured_output = True       # the response schema counts as input tokens; whether implicit caching
                                   # serves it is not documented: caches_schema stays False (counted uncached),
                                   # so the prompt quotes the descriptions and the schema carries the structure
    # Implicit caching (Gemini 2.5, since 2025-05-08): a prefix of 1,024+ tokens (2.5 Flash; 2.5 Pro: 4,096)
    # shared with a recent request is billed at the cached rate; usage says how many (cachedContentTokenCount).
    cache_min_tokens = 1024
    cache_rule = "Gemini implicit caching: a repeated prefix of 1,024+ tokens (2.5 Flash) at the cached rate"

    def __init__(self, settings: TeacherSettings):
        super().__init__(settings)
        self._key = self.api_key()        # raises TeacherConfigError now, not on the first page
        self._client = genai.Client(
            api_key=self._key,
            vertexai=False,               # never switch to Vertex because GOOGLE_GENAI_USE_VERTEXAI is set
            http_options=types.HttpOptions(
                base_url=settings.base_url or None,
                api_version="v1beta",
                timeout=max(1, int(settings.timeout_s * 1000)),     # milliseconds
                # None already means "one attempt" in google-genai 3.x; attempts=1 says so in any version.
                retry_options=types.HttpRetryOptions(attempts=1),
                # httpx(2) keeps 20 idle connections and opens 100 at most: past --concurrency 20 nearly
                # every request paid a new connection (a TLS handshake against the real API), past 100
                # requests queued in the pool. The label engine bounds what is in flight. The Limits
                # class is the SDK's own library's: google-genai 3.x picks its library from it.
                client_args={"limits": _sdk_http_module().Limits(max_connections=None,
                                                                 max_keepalive_connections=None)},
            ),
        )
        self._configs: dict[tuple, types.GenerateContentConfig] = {}
        self._configs_lock = threading.Lock()

    def _config(self, task: Task, temperature: float) -> types.GenerateContentConfig:
        """The request config, built once per (schema, temperature) and shared by every call.

        Building it (the JSON Schema, then the config model) cost ~1 ms a call, 40% of the call's
        CPU, paid under the GIL that every request in flight shares. The SDK copies the config
        before use and never writes to it (nor to the schema dict).
        """
        key = (task.model, temperature)
        with self._configs_lock:          # the first N requests arrive together: build it once, not N times
            config = self._configs.get(key)
            if config is None:
                config = self._configs[key] = types.GenerateContentConfig(
                    **self.output_format(task),
                    temperature=temperature,
                    max_output_tokens=self.settings.max_output_tokens,
                    automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
                )
        return config

    def output_format(self, task: Task) -> dict:
        """The config's answer format by --json-mode: the task's JSON Schema (its structure: the prompt
        quotes the descriptions, see ``Teacher.quotes_schema``), plain JSON, or nothing."""
        if self.settings.json_mode == "schema":
            return {"response_mime_type": "application/json", "response_json_schema": self.response_schema(task)}
        return {"response_mime_type": "application/json"} if self.settings.json_mode == "object" else {}

    def contents(self, page: PageInput, task: Task, prompt: str) -> list[types.Content]:
        """The request's one user turn: the static prompt first (a prefix every page shares, which implicit
        caching can serve), then the page image(s), then what belongs to this page (``request_parts``)."""
        parts = [types.Part.from_text(text=part) if isinstance(part, str)
                 else types.Part.from_bytes(data=part.image, mime_type=part.mime_type)
                 for part in self.request_parts(page, task, prompt)]
        return [types.Content(role="user", parts=parts)]

    def ask(self, page: PageInput, task: Task, prompt: str, temperature: float | None = None) -> Reply:
        config = self._config(task, self.settings.temperature if temperature is None else temperature)
        contents = self.contents(page, task, prompt)
        try:
            response = self._client.models.generate_content(model=self.model, contents=contents, config=config)
        except errors.ClientError as exc:
            if exc.code == 429:
                return Reply(ReplyStatus.RATE_LIMITED, detail=self.scrub(f"429 {exc.message or exc.status}"),
                             retry_after_s=_retry_after(exc))
            if exc.code == 408:
                return Reply(ReplyStatus.TIMEOUT, detail=self.scrub(f"408 {exc.message or exc.status}"))
            raise TeacherFatalError(self._fatal_message(exc)) from None
        except errors.APIError as exc:     # ServerError (5xx), and any other status the SDK did not expect
            return Reply(ReplyStatus.SERVER_ERROR, detail=self.scrub(f"{exc.code} {exc.message or exc.status}"))
        except (errors.UnknownApiResponseError, json.JSONDecodeError) as exc:  # a 200 that is not JSON (a proxy)
            return Reply(ReplyStatus.SERVER_ERROR, detail=self.scrub(f"reply body is not JSON ({exc})")[:500])
        except _TIMEOUT_ERRORS as exc:
            return Reply(ReplyStatus.TIMEOUT, detail=f"no answer within {self.settings.timeout_s:g} s "
                                                     f"({type(exc).__name__})")
        except _TRANSPORT_ERRORS as exc:
            return Reply(ReplyStatus.CONNECTION_ERROR, detail=self.scrub(f"{type(exc).__name__}: {exc}"))
        return reply_from_response(response)

    def _fatal_message(self, exc: errors.APIError) -> str:
        """A message that says what to fix; the provider's own words are kept, the key never is."""
        status = f" {exc.status}" if exc.status else ""
        said = f"({exc.code}{status}): {exc.message or exc.details}"
        env = " or ".join(self.api_key_env)
        # An invalid key comes back as 400 INVALID_ARGUMENT with reason API_KEY_INVALID, not as a 401.
        if exc.code in (401, 403) or "API_KEY" in str(exc.details) or "API key" in (exc.message or ""):
            text = f"Gemini rejected the API key {said}; check {env}"
        elif exc.code == 404:
            text = f"Gemini does not know the model {self.model!r} {said}; check --model"
        else:
            text = f"Gemini rejected the request for model {self.model!r} {said}"
        return self.scrub(text)

    def image_tokens(self, width: int, height: int, price=None) -> int:
        return gemini_image_tokens(width, height)

    def image_rule(self) -> str:
        return "258 per 768-px tile (<=384 px: 258)"

    def batch_client(self):
        from pipeline.teachers.gemini_batch import GeminiBatch

        return GeminiBatch(self)

    def close(self) -> None:
        self._client.close()
