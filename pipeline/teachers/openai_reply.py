"""A chat.completion JSON body as a Reply: one mapping for online answers and batch results alike.

Read from the raw body (a dict), so the text is kept whatever happens to it, and servers that add
or omit fields are read as well as OpenAI itself.
"""

from __future__ import annotations

from pipeline.teachers.base import Reply, ReplyStatus


def _text(content: object) -> str:
    """Message content as text (a few servers send a list of parts instead of a string)."""
    if isinstance(content, list):
        return "".join(p.get("text") or "" for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def reply_from_body(body: dict) -> Reply:
    """Map a chat.completion JSON body to a Reply (kept as a dict: servers add and omit fields)."""
    usage = body.get("usage") or {}
    details = usage.get("prompt_tokens_details") if isinstance(usage.get("prompt_tokens_details"), dict) else {}
    # cached_tokens: the part of prompt_tokens that prompt caching served, billed at the cached rate.
    tokens = {"tokens_in": usage.get("prompt_tokens") or 0, "tokens_out": usage.get("completion_tokens") or 0,
              "tokens_cached": details.get("cached_tokens") or 0}
    choices = body.get("choices") or []
    if not choices:
        return Reply(ReplyStatus.SERVER_ERROR, detail="reply had no choices", **tokens)
    message = choices[0].get("message") or {}
    finish = choices[0].get("finish_reason") or ""
    text = _text(message.get("content"))
    if message.get("refusal"):
        return Reply(ReplyStatus.REFUSED, text=text, finish_reason=finish, detail=message["refusal"], **tokens)
    status = {"length": ReplyStatus.TRUNCATED, "content_filter": ReplyStatus.SAFETY_BLOCKED}.get(
        finish, ReplyStatus.COMPLETE)      # "stop" and anything else: the caller's validation judges the text
    return Reply(status, text=text, finish_reason=finish, **tokens)
