"""Gemini teacher: google-genai's ``generate_content`` with a JSON response schema.

The SDK's own retries are switched off: the label stage's retry layer owns retrying, so a 429
or a 5xx is reported once, as a Reply, and counted once against the rate limit.
"""

from __future__ import annotations

import email.utils
import importlib.metadata
import json
import os
import re
import sys
import threading
import time

import httpx2
from google import genai
from google.genai import errors, types

from pipeline.tasks import Task
from pipeline.teachers.base import (PageInput, Reply, ReplyStatus, Teacher, TeacherFatalError, TeacherSettings,
                                    register)

# google-genai 3.x sends through httpx2 (a fork of httpx under its own name; GOOGLE_GENAI_HTTP_CLIENT=httpx
# switches to httpx where that is installed), 2.x through httpx. Their exceptions are unrelated classes,
# so catch both. httpx is never imported here (a base install does not have it): an SDK that sends
# through it has imported it already.
_HTTP_MODULES = [m for m in (httpx2, sys.modules.get("httpx")) if m is not None]
_TIMEOUT_ERRORS = tuple(m.TimeoutException for m in _HTTP_MODULES)
_TRANSPORT_ERRORS = tuple(m.TransportError for m in _HTTP_MODULES)   # connect refused, reset, protocol

_SAFETY = frozenset({"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY",
                     "IMAGE_PROHIBITED_CONTENT", "MODEL_ARMOR"})
_RECITATION = frozenset({"RECITATION", "IMAGE_RECITATION"})
# CONTINUATION only survives when the SDK's automatic continuation gave up: the answer is unfinished.
_TRUNCATED = frozenset({"MAX_TOKENS", "CONTINUATION"})


def _enum_name(value: object) -> str:
    """'STOP' from FinishReason.STOP, or the plain string the SDK keeps for values it does not know."""
    if value is None:
        return ""
    return str(getattr(value, "value", value))


def _retry_after(exc: errors.APIError) -> float | None:
    """Seconds to wait from a 429: the Retry-After header, else the body's RetryInfo.retryDelay ("7s")."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
            except (TypeError, ValueError):
                pass
    body = exc.details if isinstance(exc.details, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    for item in error.get("details") or []:
        match = re.fullmatch(r"([\d.]+)s", str(item.get("retryDelay", ""))) if isinstance(item, dict) else None
        if match:
            return float(match[1])
    return None


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

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

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
                    response_mime_type="application/json",
                    response_json_schema=task.model.model_json_schema(),
                    temperature=temperature,
                    max_output_tokens=self.settings.max_output_tokens,
                    automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
                )
        return config

    def ask(self, page: PageInput, task: Task, prompt: str, temperature: float | None = None) -> Reply:
        config = self._config(task, self.settings.temperature if temperature is None else temperature)
        contents = [types.Part.from_bytes(data=page.image, mime_type=page.mime_type), prompt]
        try:
            response = self._client.models.generate_content(model=self.model, contents=contents, config=config)
        except errors.ClientError as exc:
            if exc.code == 429:
                return Reply(ReplyStatus.RATE_LIMITED, detail=self._scrub(f"429 {exc.message or exc.status}"),
                             retry_after_s=_retry_after(exc))
            if exc.code == 408:
                return Reply(ReplyStatus.TIMEOUT, detail=self._scrub(f"408 {exc.message or exc.status}"))
            raise TeacherFatalError(self._fatal_message(exc)) from None
        except errors.APIError as exc:     # ServerError (5xx), and any other status the SDK did not expect
            return Reply(ReplyStatus.SERVER_ERROR, detail=self._scrub(f"{exc.code} {exc.message or exc.status}"))
        except (errors.UnknownApiResponseError, json.JSONDecodeError) as exc:  # a 200 that is not JSON (a proxy)
            return Reply(ReplyStatus.SERVER_ERROR, detail=self._scrub(f"reply body is not JSON ({exc})")[:500])
        except _TIMEOUT_ERRORS as exc:
            return Reply(ReplyStatus.TIMEOUT, detail=f"no answer within {self.settings.timeout_s:g} s "
                                                     f"({type(exc).__name__})")
        except _TRANSPORT_ERRORS as exc:
            return Reply(ReplyStatus.CONNECTION_ERROR, detail=self._scrub(f"{type(exc).__name__}: {exc}"))
        return self._reply(response)

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
        return self._scrub(text)

    @staticmethod
    def _reply(response: types.GenerateContentResponse) -> Reply:
        usage = response.usage_metadata
        tokens_in = (usage.prompt_token_count or 0) if usage else 0
        tokens_out = ((usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)) if usage else 0
        if not response.candidates:
            feedback = response.prompt_feedback
            reason = _enum_name(feedback.block_reason) if feedback else ""
            if reason:
                message = getattr(feedback, "block_reason_message", None)
                return Reply(ReplyStatus.PROMPT_BLOCKED, finish_reason=reason, tokens_in=tokens_in,
                             detail=f"{reason}: {message}" if message else reason)
            # No candidate and no reason: nothing usable came back, worth another try.
            return Reply(ReplyStatus.SERVER_ERROR, tokens_in=tokens_in, detail="reply had no candidates")
        candidate = response.candidates[0]
        parts = candidate.content.parts if candidate.content and candidate.content.parts else []
        # Thought summaries (include_thoughts) are not the answer.
        text = "".join(p.text for p in parts if p.text and not p.thought)
        finish = _enum_name(candidate.finish_reason)
        if finish in _TRUNCATED:
            status = ReplyStatus.TRUNCATED
        elif finish in _SAFETY:
            status = ReplyStatus.SAFETY_BLOCKED
        elif finish in _RECITATION:
            status = ReplyStatus.RECITATION_BLOCKED
        else:   # STOP, and rarer ones (OTHER, LANGUAGE ...): the caller's validation judges the text
            status = ReplyStatus.COMPLETE
        detail = "" if status is ReplyStatus.COMPLETE or not candidate.finish_message else candidate.finish_message
        return Reply(status, text=text, finish_reason=finish, tokens_in=tokens_in, tokens_out=tokens_out,
                     detail=detail)

    def close(self) -> None:
        self._client.close()
