"""Why an answer fails: one tag per failure kind, computed on the raw text and the salvaged object.

Tags: parse_failure, truncated, run_on, instruction_echo, repetition_loop, wrong_script:<Script>,
domain_leakage, hallucinated_keys, omitted_fields, digit_flip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pipeline.evaluation.fields import Trace
from pipeline.evaluation.parse import ParsedOutput
from pipeline.evaluation.text import normalise
from pipeline.scripts import char_script, strings_of

_ASCII_BYTES = bytes(range(128))
_ECHO_MIN_CHARS = 24   # a prompt line shorter than this could be written by chance
_MAX_ID_CHARS = 40     # digit flips are looked for in IDs, dates and amounts, not in page-long text


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


def _non_ascii(text: str) -> set[str]:
    """The distinct non-ASCII characters of a text (deleting the ASCII bytes of its UTF-8 form, in C, beats
    a regular expression over it).

    >>> sorted(_non_ascii("a é b ق é"))
    ['é', 'ق']
    """
    return set(text.encode("utf-8", "surrogatepass").translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass"))


def scripts_in(text: str) -> set[str]:
    """Non-Latin scripts whose letters occur in the text; fast: each distinct character looked up once.

    >>> sorted(scripts_in("Total قانون 中")), scripts_in("plain ASCII")
    (['Arabic', 'Han'], set())
    """
    if text.isascii():
        return set()
    scripts = set(map(char_script, _non_ascii(text)))
    return {s for s in scripts if s and s != "Latin"}


def repeated_ngram(texts: list[str], reference_texts: list[str], n: int, threshold: int) -> str | None:
    """The n-gram that loops (occurs ``threshold`` more times than in the reference), or None.

    Tokens are those of the normalised (case-folded, whitespace-split) texts, taken in order. The
    n-grams occurring ``threshold`` times are found by hash (``ngram_keys``), most frequent first,
    and each is then counted exactly in both texts: a hash collision can propose a wrong candidate,
    never hide a loop or report a false one.

    >>> repeated_ngram(["the cat sat on " * 6], ["the cat sat on the mat"], 4, 4)
    'the cat sat on'
    >>> repeated_ngram(["a b c d a b c d"], [], 4, 4) is None
    True
    >>> repeated_ngram(["x " * 9], ["x " * 6], 4, 4), repeated_ngram(["x " * 9], ["x " * 5], 4, 4)
    (None, 'x x x x')
    """
    answer = " ".join(filter(None, map(normalise, texts)))
    encoded = answer.encode()
    keys, starts, ends = ngram_keys(encoded, n)
    if len(keys) < threshold:
        return None
    ranked = np.sort(keys)
    reaching = np.flatnonzero(ranked[threshold - 1:] == ranked[:len(ranked) - threshold + 1])
    if not len(reaching):                       # most answers: no n-gram reaches the threshold at all
        return None
    order = np.argsort(keys, kind="stable")     # stable: each key's first occurrence leads its run
    run_starts = np.searchsorted(ranked, ranked[reaching], "left")
    run_counts = np.searchsorted(ranked, ranked[reaching], "right") - run_starts
    reference = " ".join(filter(None, map(normalise, reference_texts)))
    for _, run_start in sorted(set(zip(run_counts.tolist(), run_starts.tolist())), key=lambda c: (-c[0], c[1])):
        first = order[run_start]
        gram = encoded[starts[first]:ends[first]].decode()
        if _occurrences(gram, answer) - _occurrences(gram, reference) >= threshold:
            return gram
    return None


def _occurrences(gram: str, text: str) -> int:
    """How often a run of whole tokens occurs in a normalised text, overlaps included.

    >>> _occurrences("a a", "a a a ba a"), _occurrences("b c", "ab c b c")
    (2, 1)
    """
    count, at = 0, text.find(gram)
    while at != -1:
        end = at + len(gram)
        if (at == 0 or text[at - 1] == " ") and (end == len(text) or text[end] == " "):
            count += 1
        at = text.find(gram, at + 1)
    return count


_HASH_BASE = np.uint64(0x100000001B3)   # odd, so multiplying by its powers loses nothing mod 2**64
_hash_powers = np.ones(1, dtype=np.uint64)


def _powers(count: int) -> np.ndarray:
    """_HASH_BASE ** 0 .. count - 1, mod 2**64 (numpy's uint64 arithmetic wraps), grown as needed."""
    global _hash_powers
    if len(_hash_powers) < count:
        grown = np.full(max(count, 2 * len(_hash_powers)), _HASH_BASE, dtype=np.uint64)
        grown[0] = 1
        _hash_powers = np.cumprod(grown, dtype=np.uint64)
    return _hash_powers[:count]


def ngram_keys(text: bytes, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 64-bit key per run of ``n`` tokens of a normalised text (UTF-8), with its (start, end) byte offsets.

    In numpy rather than a Counter of token tuples (~40 vs ~90 us on a 5 KB page): the key is
    the polynomial hash of the run's bytes, made position-free (sum of b[s + k] * B ** (len + k))
    from one prefix sum, so equal runs get equal keys.

    >>> keys, starts, ends = ngram_keys(b"ab c ab c", 2)
    >>> bool(keys[0] == keys[2]), bool(keys[0] == keys[1]), starts.tolist(), ends.tolist()
    (True, False, [0, 3, 5], [4, 7, 9])
    >>> len(ngram_keys(b"ab c d", 4)[0]), len(ngram_keys(b"", 1)[0])
    (0, 0)
    """
    data = np.frombuffer(text, dtype=np.uint8)
    spaces = np.flatnonzero(data == 32)         # normalised: tokens are split by exactly one space
    windows = len(spaces) + 2 - n if text else 0
    if windows <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty.astype(np.uint64), empty, empty
    powers = _powers(len(data) + 1)
    prefix = np.zeros(len(data) + 1, dtype=np.uint64)
    np.cumsum(data * powers[:-1], out=prefix[1:])
    starts = np.concatenate(([0], spaces[:windows - 1] + 1))
    ends = np.concatenate((spaces[n - 1:], [len(data)]))
    return (prefix[ends] - prefix[starts]) * powers[len(data) - starts], starts, ends


def echoes_prompt(text: str, prompt: str, reference_text: str) -> bool:
    """True when a line of the prompt (long enough not to be chance) is repeated in the answer.

    >>> echoes_prompt("Extract the receipt as JSON. {}", "Extract the receipt as JSON.\\nBe exact.", "")
    True
    >>> echoes_prompt('{"a": 1}', "Extract the receipt as JSON.", "")
    False
    """
    answer = None
    lowered = text.lower() if text.isascii() else text.casefold()   # the same on ASCII, faster
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
    unseen = {ch for ch in _non_ascii(answer) if ch not in context}
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
