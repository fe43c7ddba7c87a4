"""Live predictions from an OpenAI-compatible server (``llamafactory-cli api``, vLLM, SGLang).

Each item's page goes as a data URL with the student prompt, after the system prompt the record was
trained with (a build_dataset split's ``system``), as extract sends it. ``guided`` asks for schema-constrained
decoding both ways servers understand it: ``response_format`` json_schema (OpenAI, llamafactory api)
and vLLM's ``extra_body={"structured_outputs": {"json": schema}}``. Answers are cached in SQLite by
content address (image hash + prompt + model + generation parameters), so a rerun sends nothing.
Transient failures (429, 5xx, timeouts, dropped connections) are retried with backoff (tenacity);
a rejected key or unknown model stops the run (EndpointError).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.evaluation.endpoint_cache import PredictionCache
from pipeline.evaluation.inputs import EvalItem
from pipeline.student.chat import guided_args, student_messages
from pipeline.tasks import Task
from pipeline.errors import EndpointError  # noqa: F401 (re-exported)

_MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


@dataclass(frozen=True)
class EndpointConfig:
    url: str
    model: str
    guided: bool = False
    concurrency: int = 4
    temperature: float = 0.0
    max_tokens: int = 4096
    timeout_s: float = 120.0
    max_attempts: int = 4
    backoff_base_s: float = 1.0

    def params(self) -> dict:
        """What shapes an answer (part of the cache key); not the URL: the same model elsewhere is the same."""
        return {"model": self.model, "guided": self.guided, "temperature": self.temperature,
                "max_tokens": self.max_tokens}


@dataclass
class EndpointStats:
    sent: int = 0            # requests that reached the server, retries included
    cached: int = 0
    answered: int = 0
    failed: Counter = field(default_factory=Counter)   # reason -> items without an answer
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_sent(self) -> None:
        with self._lock:          # worker threads count here
            self.sent += 1

    def to_dict(self) -> dict:
        return {"sent": self.sent, "cached": self.cached, "answered": self.answered, "failed": dict(self.failed)}


def request_key(image_sha256: str, prompt: str, schema: dict | None, params: dict, system: str | None = None) -> str:
    """Content address of one request (a system prompt, where there is one, is part of it).

    >>> key = request_key("ab", "Read it.", None, {"model": "m"})
    >>> len(key), key == request_key("ab", "Read it.", None, {"model": "other"})
    (64, False)
    >>> key == request_key("ab", "Read it.", None, {"model": "m"}, "You read documents.")
    False
    """
    identity = {"image": image_sha256, "prompt": prompt, "schema": schema, "params": params}
    if system:                     # only then: the keys of answers cached before stay as they were
        identity["system"] = system
    blob = json.dumps(identity, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()




def _make_sender(client, cfg: EndpointConfig, stats: EndpointStats):
    import openai
    import tenacity

    def transient(exc: BaseException) -> bool:
        if isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError)):
            return True
        return isinstance(exc, openai.APIStatusError) and (exc.status_code in (408, 409, 429)
                                                           or exc.status_code >= 500)

    @tenacity.retry(retry=tenacity.retry_if_exception(transient), reraise=True,
                    stop=tenacity.stop_after_attempt(cfg.max_attempts),
                    wait=tenacity.wait_exponential_jitter(initial=cfg.backoff_base_s, max=60))
    def send(messages: list[dict], extra: dict) -> str:
        stats.count_sent()
        response = client.chat.completions.create(model=cfg.model, messages=messages, temperature=cfg.temperature,
                                                  max_tokens=cfg.max_tokens, **extra)
        return (response.choices[0].message.content or "") if response.choices else ""
    return send


def predict_endpoint(items: list[EvalItem], cfg: EndpointConfig, tasks: dict[str, Task],
                     cache_path: Path) -> tuple[dict[str, str], EndpointStats]:
    """item id -> answer text for every item the server answered (or the cache held)."""
    import openai

    stats, predictions = EndpointStats(), {}
    cache = PredictionCache(cache_path)
    pending: list[tuple[EvalItem, str, list[dict], dict]] = []
    try:
        for item in items:
            if item.image is None or not item.image.is_file() or not item.prompt:
                stats.failed["no_image" if item.prompt else "no_prompt"] += 1
                continue
            image = item.image.read_bytes()
            task = tasks.get(item.task or "")
            extra = guided_args(task) if cfg.guided else {}
            key = request_key(hashlib.sha256(image).hexdigest(), item.prompt,
                              extra.get("response_format"), cfg.params(), item.system)
            text = cache.get(key)
            if text is not None:
                stats.cached += 1
                predictions[item.id] = text
                continue
            mime = _MIME.get(item.image.suffix.lower(), "image/jpeg")
            pending.append((item, key, student_messages(image, mime, item.prompt, item.system), extra))
        if pending:
            _send_all(pending, cfg, stats, cache, predictions, openai)
    finally:
        cache.close()
    return predictions, stats


def _send_all(pending, cfg: EndpointConfig, stats: EndpointStats, cache: PredictionCache,
              predictions: dict[str, str], openai) -> None:
    client = openai.OpenAI(base_url=cfg.url, api_key=os.environ.get("OPENAI_COMPATIBLE_API_KEY") or "EMPTY",
                           max_retries=0, timeout=cfg.timeout_s)
    send = _make_sender(client, cfg, stats)
    try:
        with ThreadPoolExecutor(max_workers=max(1, cfg.concurrency)) as pool, _cancel_on_error(pool):
            futures = {pool.submit(send, messages, extra): (item, key) for item, key, messages, extra in pending}
            for future in as_completed(futures):
                item, key = futures[future]
                try:
                    text = future.result()
                except openai.APIStatusError as exc:
                    if exc.status_code in (401, 403, 404):
                        for other in futures:
                            other.cancel()
                        raise EndpointError(_fatal_message(exc.status_code, cfg)) from None
                    stats.failed[f"http_{exc.status_code}"] += 1
                    continue
                except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                    stats.failed["timeout" if isinstance(exc, openai.APITimeoutError) else "connection_error"] += 1
                    continue
                cache.put(key, cfg.model, text)       # this thread only: SQLite connections are per thread
                predictions[item.id] = text
                stats.answered += 1
    finally:
        client.close()


@contextlib.contextmanager
def _cancel_on_error(pool: ThreadPoolExecutor) -> Iterator[None]:
    """On any exception (Ctrl-C included) send nothing more: only the requests in flight finish."""
    try:
        yield
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise


def _fatal_message(code: int, cfg: EndpointConfig) -> str:
    if code in (401, 403):
        return (f"the server at {cfg.url} rejected the API key ({code}); set OPENAI_COMPATIBLE_API_KEY "
                "to the key it expects")
    return (f"the server at {cfg.url} does not serve model {cfg.model!r} ({code}); check the model name "
            "and the URL (it usually ends in /v1)")
