"""The output contract: did the model answer with JSON, and where does its first object start and end.

A student's raw text is judged as it is; its content is scored on the first complete top-level
object, found by a bracket- and string-aware scanner (so a ``}`` inside a string value does not end
the object, and text after the object, a run-on, is never parsed into it).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_MAX_STARTS = 200  # candidate "{" positions tried before giving up on a long prose answer
_FENCE_CLOSERS = ("```",)
_SPECIAL = re.compile(r'["\\{}\[\]]')
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class ParsedOutput:
    """What the raw text holds: the first object, how it was found, and what surrounds it."""

    obj: dict | None
    strict: bool        # json.loads of the whole stripped text gives an object
    salvaged: bool      # not strict, but an object was recovered from prose, fences or run-on text
    truncated: bool     # an object was opened and never closed (the output stopped mid-JSON)
    trailing: str       # non-blank text after the object (closing code fence excluded)
    leading: str        # non-blank text before the object (opening code fence excluded)


def object_end(text: str, start: int) -> int | None:
    """Index just past the object opened at ``text[start] == "{"``, or None if it never closes.

    Brackets inside strings (and escaped quotes) are ignored.

    >>> text = 'x {"a": "}{", "b": [1, {"c": 2}]} tail'
    >>> text[2:object_end(text, 2)]
    '{"a": "}{", "b": [1, {"c": 2}]}'
    >>> object_end('{"a": "\\\\"}"', 0) is None   # the string holds \\" then }, the object is open
    True
    """
    depth = 0
    in_string = False
    escaped_at = -1
    for match in _SPECIAL.finditer(text, start):   # jump between the characters that matter
        i = match.start()
        if i == escaped_at:
            continue
        ch = text[i]
        if in_string:
            if ch == "\\":
                escaped_at = i + 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{" or ch == "[":
            depth += 1
        elif ch == "}" or ch == "]":
            depth -= 1
            if depth == 0:
                return i + 1
            if depth < 0:
                return None
    return None

def _strip_fence(text: str, at_end: bool) -> str:
    text = text.strip()
    if at_end:
        for closer in _FENCE_CLOSERS:
            if text.startswith(closer):
                text = text[len(closer):].strip()
    elif text.endswith("```json") or text.endswith("```JSON"):
        text = text[:-7].strip()
    elif text.endswith("```"):
        text = text[:-3].strip()
    return text


def parse_output(text: str) -> ParsedOutput:
    """Judge a raw answer: strict JSON, salvaged object, truncated, and the text around the object.

    >>> p = parse_output('{"a": 1}')
    >>> p.obj, p.strict, p.salvaged, p.trailing
    ({'a': 1}, True, False, '')
    >>> p = parse_output('Sure:\\n```json\\n{"a": "x}"}\\n```\\nHope this helps!')
    >>> p.obj, p.strict, p.salvaged, p.leading, p.trailing
    ({'a': 'x}'}, False, True, 'Sure:', 'Hope this helps!')
    >>> p = parse_output('{"a": 1} {"a": 1} {"a": 1')
    >>> p.obj, p.salvaged, p.trailing
    ({'a': 1}, True, '{"a": 1} {"a": 1')
    >>> p = parse_output('{"a": [1, 2')
    >>> p.obj, p.truncated
    (None, True)
    """
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}"):
        try:
            obj = json.loads(stripped)
        except (json.JSONDecodeError, RecursionError):
            obj = None
        if isinstance(obj, dict):
            return ParsedOutput(obj, True, False, False, "", "")
    truncated = False
    start = text.find("{")
    tries = 0
    while start != -1 and tries < _MAX_STARTS:
        tries += 1
        try:   # a valid object parses in C and ends where the scanner would end it
            obj, end = _DECODER.raw_decode(text, start)
        except (json.JSONDecodeError, RecursionError):
            obj = None
            end = object_end(text, start)
            if end is None:
                truncated = True   # everything after an unclosed "{" belongs to it: no later object can close
                break
        if isinstance(obj, dict):
            return ParsedOutput(obj, False, True, False, _strip_fence(text[end:], True),
                                _strip_fence(text[:start], False))
        start = text.find("{", start + 1)
    return ParsedOutput(None, False, False, truncated, "", "")
