"""The teacher interface: one page image + one task in, one raw reply out.

A teacher only talks to its provider and reports what came back (text, finish reason, usage,
or why nothing came back). Validation, salvage, repair re-asks and storage are the label
stage's job, so every provider's answers go through exactly the same checks.
Adding a provider is one new module with one ``@register``-ed subclass, which also declares what
it can do (as simonw/llm's model classes declare ``can_stream``): whether it is billed per token,
whether pages leave this machine, whether it may be asked from several threads, how it counts
image tokens, and its Batch API client. Nothing outside ``pipeline.teachers`` looks at its name.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar

from pipeline.schemas import schema_text
from pipeline.tasks import Task
from pipeline.errors import TeacherConfigError, TeacherFatalError  # noqa: F401 (re-exported)


class ReplyStatus(str, Enum):
    """What the provider did with the request (before we look at the text)."""

    COMPLETE = "complete"                 # finished normally: the text is the whole answer
    TRUNCATED = "truncated"               # hit the output token limit (Gemini MAX_TOKENS, OpenAI length)
    SAFETY_BLOCKED = "safety_blocked"     # the answer was withheld by a safety / content filter
    RECITATION_BLOCKED = "recitation_blocked"  # Gemini RECITATION: the answer quoted protected text
    PROMPT_BLOCKED = "prompt_blocked"     # the request itself was refused (Gemini promptFeedback.blockReason)
    REFUSED = "refused"                   # the model declined (OpenAI message.refusal)
    NO_TEXT_LAYER = "no_text_layer"       # textlayer teacher: the page has no text to label from
    UNREADABLE_PAGE = "unreadable_page"   # an offline teacher cannot read this page: permanent, not retried
    RATE_LIMITED = "rate_limited"         # 429: retryable
    SERVER_ERROR = "server_error"         # 5xx: retryable
    TIMEOUT = "timeout"                   # retryable
    CONNECTION_ERROR = "connection_error"  # retryable


RETRYABLE = frozenset({ReplyStatus.RATE_LIMITED, ReplyStatus.SERVER_ERROR, ReplyStatus.TIMEOUT,
                       ReplyStatus.CONNECTION_ERROR})


@dataclass
class TeacherSettings:
    """Flags common to every teacher; a provider ignores what it has no use for."""

    model: str | None = None
    base_url: str | None = None
    temperature: float = 0.0
    max_output_tokens: int = 8192
    timeout_s: float = 120.0
    image_detail: str = "high"            # OpenAI: low | high | auto
    json_mode: str = "schema"             # schema | object | none (see Teacher.enforces_schema)
    ocr_lang: str = "ara+eng"             # tesseract, and textlayer's OCR fallback: Tesseract languages
    ocr_fallback: str = "auto"            # textlayer: OCR pages without a text layer (auto | never | always)


@dataclass
class PageInput:
    """Everything a teacher may look at for one page."""

    doc_id: str
    page_index: int
    image: bytes
    mime_type: str                        # image/jpeg or image/png
    source: Path | None = None            # the PDF itself (the textlayer teacher reads it)
    passwords: tuple[str, ...] = field(default=(), repr=False)
    pdf_metadata: dict = field(default_factory=dict)
    anchor_text: str | None = None        # bounded text-layer excerpt added to the prompt (--anchor)
    more: tuple[PageInput, ...] = ()      # the other pages of a multi-page request (--pages-per-request)

    @property
    def pages(self) -> tuple[PageInput, ...]:
        """Every page the request shows, in order: this one, then ``more``."""
        return (self, *self.more)


@dataclass
class Reply:
    status: ReplyStatus
    text: str = ""                        # raw text as the provider sent it (kept, whatever the status)
    finish_reason: str = ""               # the provider's own word for it (STOP, MAX_TOKENS, length ...)
    tokens_in: int = 0                    # every input token, cached ones included (as both APIs report them)
    tokens_out: int = 0
    tokens_cached: int = 0                # input tokens the provider served from its prompt cache
    detail: str = ""                      # error message, refusal text, block reason
    retry_after_s: float | None = None    # from a 429's Retry-After, when given
    data: dict | None = None              # an already-validated object (the textlayer teacher builds one)


class Teacher(ABC):
    """One provider. Subclasses set ``name`` and implement ``ask``; the class says what it can do."""

    name: ClassVar[str]                           # data (stored in every label), never a switch
    default_model: ClassVar[str]
    api_key_env: ClassVar[tuple[str, ...]] = ()   # environment variables read for the key, in order
    is_cloud: ClassVar[bool] = True               # a provider's own service: pages always leave the machine
    priced: ClassVar[bool] = True                 # counts and bills tokens: the price table and --max-cost apply
    thread_safe: ClassVar[bool] = True            # ask() may run on several threads at once (else one at a time)
    has_batch_api: ClassVar[bool] = False         # batch_client() returns a client (--batch / --collect)
    combines_tasks: ClassVar[bool] = False        # answers any task from its prompt and schema, so also several
                                                  # tasks in one request (--one-request-per-page)
    structured_output: ClassVar[bool] = False     # can send the task's JSON Schema as the response schema, which
                                                  # the provider holds the answer to (json_mode "schema")
    caches_schema: ClassVar[bool] = False         # the response schema is part of the cached prefix (documented)
    key_placeholder: ClassVar[str | None] = None  # a key sent when none is set: not a secret, never scrubbed
    # Prompt caching: a request whose first ``cache_min_tokens`` tokens or more repeat an earlier request's
    # are billed at the cached rate for that prefix, counted in steps of ``cache_step_tokens`` (0: no caching).
    cache_min_tokens: ClassVar[int] = 0
    cache_step_tokens: ClassVar[int] = 1
    cache_rule: ClassVar[str] = "no prompt caching"
    _key: str | None = None                       # the API key in use, once read (see scrub)

    def __init__(self, settings: TeacherSettings):
        self.settings = settings
        self.model = settings.model or self.default_model

    @property
    def off_machine(self) -> bool:
        """Whether pages given to this teacher leave this machine: the privacy gate applies to those."""
        return self.is_cloud

    def api_key(self) -> str:
        """The key from the environment (never from flags or files), or a clear error naming the variable."""
        for var in self.api_key_env:
            if os.environ.get(var):
                return os.environ[var]
        raise TeacherConfigError(f"the {self.name} teacher needs an API key: set {' or '.join(self.api_key_env)} "
                                 "in the environment")

    def scrub(self, text: str) -> str:
        """``text`` with this teacher's API key masked: a provider's error may quote the request."""
        return scrub_secret(text, None if self._key == self.key_placeholder else self._key)

    def check_tasks(self, tasks: list[Task]) -> None:
        """Raise TeacherConfigError before any work if this teacher cannot do one of the tasks."""

    @property
    def enforces_schema(self) -> bool:
        """Whether requests carry the task's JSON Schema as their response schema (structured output
        with ``--json-mode schema``)."""
        return self.structured_output and self.settings.json_mode == "schema"

    @property
    def quotes_schema(self) -> bool:
        """Whether the prompt quotes the task's JSON Schema, field descriptions included.

        Not where the request carries the whole schema and the provider caches it with the prompt
        (``caches_schema``): it would be billed twice. Where the request carries a schema the cache
        may not serve (Gemini), the prompt quotes it (its static part is served from the cache) and
        the response schema holds only the structure (``response_schema``): the descriptions,
        half the schema's tokens, are billed at the cached rate and sent once.
        """
        return not (self.enforces_schema and self.caches_schema)

    def response_schema(self, task: Task) -> dict | None:
        """The JSON Schema the request carries as its response schema (``wire_schema``: no titles), or None.

        With ``caches_schema`` the whole schema, descriptions in it; else its structure only (types,
        enums, required fields), the prompt quoting the descriptions (``quotes_schema``).
        """
        if not self.enforces_schema:
            return None
        return json.loads(schema_text(task.model, descriptions=not self.quotes_schema))

    def prompt_for(self, task: Task, anchor_text: str | None = None) -> str:
        """The text sent with the page: the task's teacher prompt (the student sends its own, pipeline.student),
        quoting the schema text where ``quotes_schema``."""
        return task.teacher_prompt(anchor_text, quote_schema=self.quotes_schema)

    def prompt_layout(self, task: Task, prompt: str) -> tuple[str, str]:
        """(static part, per-page part) of ``prompt``: the static part goes before the image, the rest after.

        The static part is the task's teacher prompt without an anchor (its instructions, and its schema
        text where ``quotes_schema``: the same for every page), so that consecutive requests share a byte-identical prefix that the
        provider's prompt cache can serve. Whatever ``prompt`` adds after it (the page's text-layer
        anchor, a repair re-ask's quoted answer) is the per-page part. A prompt that does not start
        with the static part is sent whole, before the image.
        """
        static = self.prompt_for(task, None)
        if prompt.startswith(static):
            return static, prompt[len(static):].lstrip("\n")
        return prompt, ""

    def request_parts(self, page: PageInput, task: Task, prompt: str) -> list[str | PageInput]:
        """What one request shows, in order (texts and page images): the static prompt first, then the page
        image, then what belongs to this page (anchor, repair); several pages each after a `Page k of n`
        label, so the prefix up to the first image is the same in every request.

        >>> class T(Teacher):
        ...     name, default_model = "t", "m"
        ...     def ask(self, *a): ...
        ...     def prompt_layout(self, task, prompt): return prompt, ""
        >>> two = PageInput("d", 1, b"img", "image/png")
        >>> [p if isinstance(p, str) else p.page_index for p in T(TeacherSettings()).request_parts(
        ...     PageInput("d", 0, b"img", "image/png", more=(two,)), None, "Read.")]
        ['Read.', 'Page 1 of 2:', 0, 'Page 2 of 2:', 1]
        """
        static, per_page = self.prompt_layout(task, prompt)
        pages = page.pages
        parts: list[str | PageInput] = [static]
        for number, shown in enumerate(pages, 1):
            parts += [f"Page {number} of {len(pages)}:", shown] if len(pages) > 1 else [shown]
        return parts + ([per_page] if per_page else [])

    @classmethod
    def cached_prefix_tokens(cls, prefix_tokens: int) -> int:
        """Tokens of a repeated ``prefix_tokens``-token prefix the provider's documented caching bills as cached.

        >>> class Cached(Teacher):
        ...     name, cache_min_tokens, cache_step_tokens = "x", 1024, 128
        ...     def ask(self, *a): ...
        >>> Cached.cached_prefix_tokens(1778), Cached.cached_prefix_tokens(1000), Teacher.cached_prefix_tokens(5000)
        (1664, 0, 0)
        """
        if not cls.cache_min_tokens or prefix_tokens < cls.cache_min_tokens:
            return 0
        return prefix_tokens // cls.cache_step_tokens * cls.cache_step_tokens

    @abstractmethod
    def ask(self, page: PageInput, task: Task, prompt: str, temperature: float | None = None) -> Reply:
        """Send one page under one task; never raises for a per-page failure (returns a Reply)."""

    def generation_params(self) -> dict:
        """What changes the answer besides the prompt and image: part of the label's identity.

        A structured-output teacher asked without its schema (``--json-mode object|none``) says so; with
        the schema (the default) the params are what they were before json_mode applied to it, so the
        labels stored then keep their request keys.
        """
        params = {"temperature": self.settings.temperature, "max_output_tokens": self.settings.max_output_tokens}
        if self.structured_output and self.settings.json_mode != "schema":
            params["json_mode"] = self.settings.json_mode
        return params

    def image_tokens(self, width: int, height: int, price: Any = None) -> int:
        """Estimated input tokens for one page image (before sending: --dry-run, --max-cost, --tpm).

        ``price`` is the model's ``pipeline.label.cost.Price`` or None; OpenAI-style rules read
        their tile counts from it. A teacher that counts no tokens says 0.
        """
        return 0

    def image_rule(self) -> str:
        """How ``image_tokens`` counts, in a few words (the dry-run estimate shows it)."""
        return "not estimated for this teacher"

    def batch_client(self) -> Any:
        """The provider's Batch API client (a ``pipeline.teachers.batch.BatchClient``) for this teacher's
        model and settings, or None: it has no Batch API (``has_batch_api`` says so before building)."""
        return None

    def close(self) -> None:
        """Release clients and connections."""


def scrub_secret(text: str, secret: str | None) -> str:
    """``text`` with ``secret`` replaced by ``***`` (nothing to hide: ``text`` as it is).

    >>> scrub_secret("401 for key sk-abc123", "sk-abc123"), scrub_secret("401", None)
    ('401 for key ***', '401')
    """
    return text.replace(secret, "***") if secret else text


TEACHERS: dict[str, type[Teacher]] = {}


def register(cls: type[Teacher]) -> type[Teacher]:
    TEACHERS[cls.name] = cls
    return cls
