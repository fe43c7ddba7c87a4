"""Gemini's answers as Replies: one mapping for online answers and for batch results alike."""

from __future__ import annotations

from google.genai import types

from pipeline.teachers.base import Reply, ReplyStatus

_SAFETY = frozenset({"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY",
                     "IMAGE_PROHIBITED_CONTENT", "MODEL_ARMOR"})
_RECITATION = frozenset({"RECITATION", "IMAGE_RECITATION"})
# CONTINUATION only survives when the SDK's automatic continuation gave up: the answer is unfinished.
_TRUNCATED = frozenset({"MAX_TOKENS", "CONTINUATION"})


def enum_name(value: object) -> str:
    """'STOP' from FinishReason.STOP, or the plain string the SDK keeps for values it does not know."""
    if value is None:
        return ""
    return str(getattr(value, "value", value))


def reply_from_response(response: types.GenerateContentResponse) -> Reply:
    """A GenerateContentResponse (online, or one answer of a batch job) as a Reply."""
    usage = response.usage_metadata
    tokens_in = (usage.prompt_token_count or 0) if usage else 0
    tokens_out = ((usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)) if usage else 0
    # Part of prompt_token_count that implicit (or explicit) caching served: billed at the cached rate.
    tokens_cached = (usage.cached_content_token_count or 0) if usage else 0
    if not response.candidates:
        feedback = response.prompt_feedback
        reason = enum_name(feedback.block_reason) if feedback else ""
        if reason:
            message = getattr(feedback, "block_reason_message", None)
            return Reply(ReplyStatus.PROMPT_BLOCKED, finish_reason=reason, tokens_in=tokens_in,
                         tokens_cached=tokens_cached, detail=f"{reason}: {message}" if message else reason)
        # No candidate and no reason: nothing usable came back, worth another try.
        return Reply(ReplyStatus.SERVER_ERROR, tokens_in=tokens_in, tokens_cached=tokens_cached,
                     detail="reply had no candidates")
    candidate = response.candidates[0]
    parts = candidate.content.parts if candidate.content and candidate.content.parts else []
    # Thought summaries (include_thoughts) are not the answer.
    text = "".join(p.text for p in parts if p.text and not p.thought)
    finish = enum_name(candidate.finish_reason)
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
                 tokens_cached=tokens_cached, detail=detail)
