"""OpenAI teachers: the OpenAI API (structured outputs) and any OpenAI-compatible server (vLLM, ...).

Both send the page as a base64 data URL and read the reply from the raw JSON body, so the text is
kept whatever happens to it: the SDK's ``parse`` would raise on truncated, filtered or malformed
answers, and checking the answer is the label stage's job. The SDK's retries are off
(``max_retries=0``): the label stage's retry layer owns retrying.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import os
import re
from typing import Any

import openai
from openai.lib._pydantic import to_strict_json_schema

from pipeline.schemas import wire_schema
from pipeline.tasks import Task
from pipeline.teachers.base import (PageInput, Reply, ReplyStatus, Teacher, TeacherConfigError, TeacherFatalError,
                                    TeacherSettings, register)
from pipeline.teachers.http import host_is_local, retry_after_s
from pipeline.teachers.openai_reply import reply_from_body

JSON_MODES = ("schema", "object", "none")


def openai_image_tokens(width: int, height: int, detail: str = "high", base: int = 85, tile: int = 170) -> int:
    """OpenAI: low detail is ``base``; high detail fits the image in 2048x2048, scales the shortest
    side down to 768, then charges ``tile`` per 512-px tile plus ``base`` ("auto" counted as high).

    >>> openai_image_tokens(1086, 1536)   # -> 768 x 1086: 2 x 3 tiles
    1105
    >>> openai_image_tokens(1086, 1536, detail="low")
    85
    >>> openai_image_tokens(4096, 8192)   # -> 1024 x 2048 -> 768 x 1536: 2 x 3 tiles
    1105
    """
    if detail == "low":
        return base
    w, h = float(width), float(height)
    if max(w, h) > 2048:
        scale = 2048 / max(w, h)
        w, h = w * scale, h * scale
    if min(w, h) > 768:
        scale = 768 / min(w, h)
        w, h = w * scale, h * scale
    return math.ceil(round(w, 6) / 512) * math.ceil(round(h, 6) / 512) * tile + base


def _schema_name(task_name: str) -> str:
    """json_schema.name allows only [A-Za-z0-9_-], at most 64 characters."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", task_name)[:64] or "answer"


@functools.lru_cache(maxsize=64)
def _strict_schema_text(model) -> str:
    """The SDK's own strict form of the model's schema (what ``parse(response_format=model)`` sends: every
    property required, no extra properties), without titles (``wire_schema``), as compact JSON."""
    return json.dumps(wire_schema(to_strict_json_schema(model)), ensure_ascii=False, separators=(",", ":"))


@register
class OpenAITeacher(Teacher):
    name = "openai"
    default_model = "gpt-4o-2024-08-06"
    api_key_env = ("OPENAI_API_KEY",)
    is_cloud = True
    has_batch_api = True
    combines_tasks = True
    structured_output = True
    # "The structured output schema serves as a prefix to the system message and can be cached"
    # (platform.openai.com/docs/guides/prompt-caching): billed as input tokens, cached with the prompt.
    caches_schema = True
    # Automatic prompt caching: a prefix of 1,024+ tokens shared with a recent request is cached in 128-token
    # steps; usage.prompt_tokens_details.cached_tokens says how many were billed at the cached rate.
    cache_min_tokens = 1024
    cache_step_tokens = 128
    cache_rule = "OpenAI prompt caching: a repeated prefix of 1,024+ tokens, in 128-token steps, at the cached rate"
    strict_schema = True          # structured outputs in strict mode: the answer is held to the schema

    def __init__(self, settings: TeacherSettings):
        super().__init__(settings)
        self._key = self.api_key()        # raises TeacherConfigError now, not on the first page
        self._client = openai.OpenAI(api_key=self._key, base_url=settings.base_url or None, max_retries=0,
                                     timeout=settings.timeout_s)

    def messages(self, page: PageInput, task: Task, prompt: str) -> list[dict]:
        """One user message: the static prompt first (the prefix every page shares, which prompt caching
        can serve), then the page image(s), then what belongs to this page (``request_parts``)."""
        content = []
        for part in self.request_parts(page, task, prompt):
            if isinstance(part, str):
                content.append({"type": "text", "text": part})
            else:
                data_url = f"data:{part.mime_type};base64,{base64.b64encode(part.image).decode('ascii')}"
                content.append({"type": "image_url", "image_url": {"url": data_url,
                                                                   "detail": self.settings.image_detail}})
        return [{"role": "user", "content": content}]

    def _send(self, page: PageInput, task: Task, prompt: str, temperature: float) -> Any:
        """Send the request; returns the raw response (its body is read before any parsing)."""
        return self._client.chat.completions.with_raw_response.create(
            model=self.model, messages=self.messages(page, task, prompt), temperature=temperature,
            max_completion_tokens=self.settings.max_output_tokens, **self.answer_format(task))

    def response_schema(self, task: Task) -> dict | None:
        if not self.enforces_schema or not self.strict_schema:
            return super().response_schema(task)
        return json.loads(_strict_schema_text(task.model))

    def answer_format(self, task: Task) -> dict:
        """The request's response_format by --json-mode: the task's JSON Schema (``response_schema``, Field
        descriptions in it: the prompt does not quote it then), plain JSON mode, or nothing."""
        schema = self.response_schema(task)
        if schema is None:
            return {"response_format": {"type": "json_object"}} if self.settings.json_mode == "object" else {}
        return {"response_format": {"type": "json_schema", "json_schema": {
            "name": _schema_name(task.name), "schema": schema, "strict": self.strict_schema}}}

    def ask(self, page: PageInput, task: Task, prompt: str, temperature: float | None = None) -> Reply:
        temperature = self.settings.temperature if temperature is None else temperature
        try:
            raw = self._send(page, task, prompt, temperature)
        except openai.APITimeoutError:     # before APIConnectionError: it is a subclass
            return Reply(ReplyStatus.TIMEOUT, detail=f"no answer within {self.settings.timeout_s:g} s")
        except openai.APIConnectionError as exc:
            return Reply(ReplyStatus.CONNECTION_ERROR, detail=self.scrub(f"{exc.message} ({exc.__cause__!r})"))
        except openai.APIStatusError as exc:
            return self._status_reply(exc)
        try:
            body = raw.http_response.json()
        except ValueError:
            return Reply(ReplyStatus.SERVER_ERROR, text=raw.http_response.text, detail="reply body is not JSON")
        return reply_from_body(body if isinstance(body, dict) else {})

    def _status_reply(self, exc: openai.APIStatusError) -> Reply:
        code = exc.status_code
        # exc.body is the error object itself ({"message": ..., "type": ...}) when the server sent JSON.
        message = exc.body.get("message") if isinstance(exc.body, dict) else None
        said = self.scrub(f"({code}): {message or exc.message}")
        if code == 429:
            return Reply(ReplyStatus.RATE_LIMITED, detail=said, retry_after_s=retry_after_s(exc.response.headers))
        if code == 408:
            return Reply(ReplyStatus.TIMEOUT, detail=said)
        if code == 409 or code >= 500:     # 409: OpenAI's own SDK retries it (a lock timeout)
            return Reply(ReplyStatus.SERVER_ERROR, detail=said)
        raise TeacherFatalError(self._fatal_message(code, said)) from None

    def _fatal_message(self, code: int, said: str) -> str:
        if code in (401, 403):
            return f"OpenAI rejected the API key {said}; check OPENAI_API_KEY"
        if code == 404:
            return f"OpenAI does not know the model {self.model!r} {said}; check --model"
        return f"OpenAI rejected the request for model {self.model!r} {said}"

    def generation_params(self) -> dict:
        return {**super().generation_params(), "image_detail": self.settings.image_detail}

    def image_tokens(self, width: int, height: int, price=None) -> int:
        base, tile = (price.image_base, price.image_tile) if price else (85, 170)
        return openai_image_tokens(width, height, self.settings.image_detail, base, tile)

    def image_rule(self) -> str:
        return f"OpenAI {self.settings.image_detail} detail: 170 per 512-px tile + 85"

    def batch_client(self):
        from pipeline.teachers.openai_batch import OpenAIBatch

        return OpenAIBatch(self)

    def close(self) -> None:
        self._client.close()


@register
class OpenAICompatibleTeacher(OpenAITeacher):
    """A local or self-hosted server speaking the chat completions API (vLLM, SGLang, llama.cpp, Ollama)."""

    name = "openai-compatible"
    default_model = ""
    is_cloud = False              # your own server: off this machine only if its URL says so (off_machine)
    has_batch_api = False         # a local server has no Batch API
    key_placeholder = "EMPTY"
    strict_schema = False         # servers differ in what structured-output forms they accept: the plain schema

    def __init__(self, settings: TeacherSettings):
        if not settings.model:
            raise TeacherConfigError("the openai-compatible teacher needs --model (the name your server serves)")
        if not settings.base_url:
            raise TeacherConfigError("the openai-compatible teacher needs --base-url, e.g. http://localhost:8000/v1")
        if settings.json_mode not in JSON_MODES:
            raise TeacherConfigError(f"unknown --json-mode {settings.json_mode!r}: use one of {', '.join(JSON_MODES)}")
        super().__init__(settings)

    # Its own variable, not OPENAI_API_KEY: a real OpenAI key must never travel to whatever
    # server --base-url names.
    api_key_env = ("OPENAI_COMPATIBLE_API_KEY",)

    def api_key(self) -> str:
        # Local servers rarely check the key, but the SDK refuses to start without one.
        return os.environ.get("OPENAI_COMPATIBLE_API_KEY") or self.key_placeholder

    @property
    def off_machine(self) -> bool:
        """Pages leave this machine unless --base-url's host is this machine or a private network."""
        return not host_is_local(self.settings.base_url)

    def batch_client(self):
        return None

    def _send(self, page: PageInput, task: Task, prompt: str, temperature: float) -> Any:
        # max_tokens rather than max_completion_tokens: every compatible server knows the older name.
        return self._client.chat.completions.with_raw_response.create(
            model=self.model, messages=self.messages(page, task, prompt), temperature=temperature,
            max_tokens=self.settings.max_output_tokens, **self.answer_format(task))

    def _fatal_message(self, code: int, said: str) -> str:
        where = self.settings.base_url
        if code in (401, 403):
            return f"the server at {where} rejected the API key {said}; set OPENAI_COMPATIBLE_API_KEY to the key it expects"
        if code == 404:
            return (f"the server at {where} does not serve model {self.model!r} {said}; "
                    "check --model and --base-url (it usually ends in /v1)")
        return f"the server at {where} rejected the request for model {self.model!r} {said}"

    def generation_params(self) -> dict:
        return {**super().generation_params(), "json_mode": self.settings.json_mode}
