"""Why an answer fails: one tag per failure kind, computed on the raw text and the salvaged object.

Tags: parse_failure, truncated, run_on, instruction_echo, repetition_loop, wrong_script:<Script>,
domain_leakage, hallucinated_keys, omitted_fields, digit_flip.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

from pipeline.evaluation.fields import Trace
from pipeline.evaluation.parse import ParsedOutput
from pipeline.evaluation.text import folded_tokens
from pipeline.scripts import char_script, strings_of

_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ECHO_MIN_CHARS = 24
_MAX_ID_CHARS = 40     # digit flips are looked for in IDs, dates and amounts, not in page-long text   # a prompt line shorter than this could be written by chance


@dataclass
class TaxonomyConfig:
    """Knobs of the failure taxonomy.

    domain_keywords: words of another domain that must not appear in this one's answers (receipt
    words in prescriptions), matched case-insensitively as whole words, unless the reference or the
    page holds them. A repetition loop is a run of ``repetition_ngram`` tokens (whitespace-separated)
    that occurs at least ``repetition_threshold`` times more in the answer than in the reference.
    """

    domain_keywords: tuple[str, ...] = ()
    repetition_ngram: int = 4
    repetition_threshold: int = 4


def scripts_in(text: str) -> set[str]:
    """Non-Latin scripts whose letters occur in the text; fast: each distinct character looked up once.

    >>> sorted(scripts_in("Total قانون 中")), scripts_in("plain ASCII")
    (['Arabic', 'Han'], set())
    """
    if text.isascii():
        return set()
    scripts = {char_script(ch) for ch in set(_NON_ASCII.findall(text))}
    return {s for s in scripts if s and s != "Latin"}


def repeated_ngram(texts: list[str], reference_texts: list[str], n: int, threshold: int) -> str | None:
    """The n-gram that loops (occurs ``threshold`` more times than in the reference), or None.

    >>> repeated_ngram(["the cat sat on " * 6], ["the cat sat on the mat"], 4, 4)
    'the cat sat on'
    >>> repeated_ngram(["a b c d a b c d"], [], 4, 4) is None
    True
    """
    tokens = list(chain.from_iterable(map(folded_tokens, texts)))
    if len(tokens) < n * threshold:
        return None
    grams = Counter(zip(*(tokens[i:] for i in range(n))))
    if max(grams.values()) < threshold:
        return None
    candidates = sorted(((count, gram) for gram, count in grams.items() if count >= threshold), reverse=True)
    ref_tokens = list(chain.from_iterable(map(folded_tokens, reference_texts)))
    ref_grams = Counter(zip(*(ref_tokens[i:] for i in range(n))))   # only now: most answers have no candidate
    for count, gram in candidates:
        if count - ref_grams.get(gram, 0) >= threshold:
            return " ".join(gram)
    return None


def echoes_prompt(text: str, prompt: str, reference_text: str) -> bool:
    """True when a line of the prompt (long enough not to be chance) is repeated in the answer.

    >>> echoes_prompt("Extract the receipt as JSON. {}", "Extract the receipt as JSON.\\nBe exact.", "")
    True
    >>> echoes_prompt('{"a": 1}', "Extract the receipt as JSON.", "")
    False
    """
    answer = None
    lowered = text.casefold()
    for line in _prompt_lines(prompt):
        if _longest_word(line) not in lowered:   # cheap test first: most answers echo nothing
            continue
        answer = answer if answer is not None else " ".join(lowered.split())
        if line in answer and line not in " ".join(reference_text.split()).casefold():
            return True
    return False


@lru_cache(maxsize=32)
def _prompt_lines(prompt: str) -> tuple[str, ...]:
    lines = (" ".join(line.split()).casefold() for line in re.split(r"\n|(?<=[.!?:])\s", prompt))
    return tuple(line for line in lines if len(line) >= _ECHO_MIN_CHARS)


def _longest_word(line: str) -> str:
    return max(line.split(), key=len)


def new_scripts(answer: str, context: str) -> list[str]:
    """Non-Latin scripts in the answer that the context (reference and page) never uses.

    >>> new_scripts("قانون 中华", "قانون رقم"), new_scripts("قانون", "رقم"), new_scripts("abc", "")
    (['Han'], [], [])
    """
    if answer.isascii():
        return []
    unseen = {ch for ch in set(_NON_ASCII.findall(answer)) if ch not in context}
    if not unseen:     # every non-ASCII character of the answer is in the context: so is its script
        return []
    candidates = {char_script(ch) for ch in unseen} - {None, "Latin"}
    return sorted(candidates - scripts_in(context)) if candidates else []


def is_digit_flip(prediction, reference) -> bool:
    """Same length and the same non-digits, digits differing in one or two places.

    >>> is_digit_flip("9.00", "9.60"), is_digit_flip("25/12/2018", "25/12/2013"), is_digit_flip("9.00", "9.00")
    (True, True, False)
    >>> is_digit_flip("123", "456"), is_digit_flip("12.0", "12.00"), is_digit_flip("abc", "abd")
    (False, False, False)
    """
    a, b = str(prediction), str(reference)
    if len(a) != len(b) or a == b or len(b) > _MAX_ID_CHARS:
        return False
    diffs = 0
    for x, y in zip(a, b):
        if x != y:
            if not (x.isdigit() and y.isdigit()):
                return False
            diffs += 1
    return 1 <= diffs <= 2 and sum(c.isdigit() for c in b) > diffs


def failure_tags(raw: str, parsed: ParsedOutput, reference: dict, trace: Trace | None, *,
                 prompt: str | None, page_text: str | None, config: TaxonomyConfig) -> list[str]:
    """Every failure kind this answer shows, in a stable order."""
    tags: list[str] = []
    if parsed.obj is None:
        tags.append("parse_failure")
    if parsed.truncated:
        tags.append("truncated")
    if parsed.trailing:
        tags.append("run_on")
    reference_strings = strings_of(reference)
    reference_text = "\n".join(reference_strings)
    context = reference_text + ("\n" + page_text if page_text else "")
    if prompt and echoes_prompt(raw, prompt, context):
        tags.append("instruction_echo")
    # judged on the object's strings when there is one, so JSON escapes and quoting do not count
    answer_strings = strings_of(parsed.obj) if parsed.obj is not None else [raw]
    answer_text = "\n".join(answer_strings)
    if repeated_ngram(answer_strings, reference_strings, config.repetition_ngram, config.repetition_threshold):
        tags.append("repetition_loop")
    tags += [f"wrong_script:{s}" for s in new_scripts(answer_text, context)]
    if config.domain_keywords:
        answer_low, context_low = answer_text.casefold(), context.casefold()
        for word in config.domain_keywords:
            pattern = re.compile(rf"\b{re.escape(word.casefold())}\b")
            if pattern.search(answer_low) and not pattern.search(context_low):
                tags.append("domain_leakage")
                break
    if trace is not None:
        if trace.hallucinated:
            tags.append("hallucinated_keys")
        omitted = trace.missing or any(p is None and r not in (None, "", [], {}) for _, p, r, _ in trace.leaves)
        if omitted:
            tags.append("omitted_fields")
        if any(score < 1 and is_digit_flip(p, r) for _, p, r, score in trace.leaves
               if isinstance(p, (str, int, float)) and isinstance(r, (str, int, float))):
            tags.append("digit_flip")
    return tags
