"""Our metrics against the reference implementations, on pairs built from the 60 SROIE receipts
(../shared/corpus/receipts): ANLS* against anls-star 1.0.1 (the paper's authors), CER against jiwer,
plain ANLS against anls. The packages are test dependencies only (anls-star scores ~100 pairs/s)."""

from __future__ import annotations

import copy
import json
import random

import pytest

from tests.conftest import CORPUS
from pipeline.evaluation import anls, anls_star, edit_rates, field_scores, numbers_equal
from pipeline.evaluation.fields import leaf_score, paper_leaf_score

RECEIPTS = CORPUS / "receipts"
anls_star_package = pytest.importorskip("anls_star", reason="the ANLS* cross-check needs anls-star==1.0.1 "
                                                            "(pip install -e '.[dev]')")


def _ocr_lines(stem: str) -> list[str]:
    lines = (RECEIPTS / "box" / f"{stem}.csv").read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.split(",", 8)[8] for line in lines if line.count(",") >= 8 and line.split(",", 8)[8].strip()]


def _edit(text: str, rng: random.Random, edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        at, new = rng.randrange(len(chars) + 1), rng.choice("abcxyz0123456789 .,")
        op = rng.choice("sid") if at < len(chars) else "i"
        if op == "s":
            chars[at] = new
        elif op == "i":
            chars.insert(at, new)
        else:
            del chars[at]
    return "".join(chars)


def _perturb_leaf(value, rng: random.Random):
    kind = rng.randrange(9)
    if isinstance(value, str) and value and kind <= 5:
        return [_edit(value, rng, rng.randint(1, 3)), value.lower(), f"  {value.upper()} ", value[:len(value) // 2],
                _edit(value, rng, rng.randint(4, 12)), _edit(value, rng, 1)][kind]
    return rng.choice([None, "", 0, 1.5, True, [value], {"v": value}, "x"])


def _perturb(value, rng: random.Random):
    """A copy with 1-2 model-like mistakes: keys dropped or invented, items lost, added, reordered, leaves wrong."""
    value = copy.deepcopy(value)
    if isinstance(value, dict):
        for _ in range(rng.randint(1, 2)):
            keys, roll = list(value), rng.random()
            if roll < 0.15 and keys:
                value.pop(rng.choice(keys))
            elif roll < 0.25:
                value[rng.choice(["phone", "tax", "note"])] = rng.choice([None, "", "03-1234 5678", [], {"a": "b"}])
            elif keys:
                key = rng.choice(keys)
                nested = isinstance(value[key], (dict, list)) and rng.random() < 0.7
                value[key] = _perturb(value[key], rng) if nested else _perturb_leaf(value[key], rng)
    elif isinstance(value, list):
        roll = rng.random()
        if roll < 0.2 and value:
            value.pop(rng.randrange(len(value)))
        elif roll < 0.35:
            value.insert(rng.randrange(len(value) + 1), rng.choice(["TOTAL", {"text": "THANK YOU"}, None]))
        elif roll < 0.5:
            rng.shuffle(value)
        elif roll < 0.6 and value:
            value.append(copy.deepcopy(rng.choice(value)))
        elif value:
            at = rng.randrange(len(value))
            value[at] = _perturb(value[at], rng) if isinstance(value[at], (dict, list)) else _perturb_leaf(value[at], rng)
    else:
        value = _perturb_leaf(value, rng)
    return value


@pytest.fixture(scope="module")
def receipts() -> list[tuple[str, dict]]:
    if not (RECEIPTS / "SOURCES.json").is_file():
        pytest.skip(f"SROIE receipts not found at {RECEIPTS} (set DOCDISTILL_SHARED to use another location)")
    return [(key.stem, json.loads(key.read_text(encoding="utf-8"))) for key in sorted((RECEIPTS / "key").glob("*.json"))]


@pytest.fixture(scope="module")
def pairs(receipts) -> dict[str, list[tuple[object, dict]]]:
    """(prediction, reference): 5 per receipt of its flat key JSON, 4 of a nested document of its key and OCR lines."""
    rng = random.Random(11)
    flat, nested = [], []
    for stem, key in receipts:
        flat += [(_perturb(key, rng), key) for _ in range(5)]
        lines = _ocr_lines(stem)
        for _ in range(4):
            start = rng.randrange(max(1, len(lines) - 6))
            items = lines[start:start + rng.randint(2, 6)]
            doc = {"store": {"name": key["company"], "address": key["address"]}, "date": key["date"],
                   "total": {"amount": key["total"], "currency": "RM"},
                   "lines": [{"text": t, "n": str(i)} for i, t in enumerate(items)] if rng.random() < 0.7 else items,
                   "flags": {"paid": rng.random() < 0.5, "copy": None}}
            nested.append((_perturb(doc, rng), doc))
    return {"flat": flat, "nested": nested}


@pytest.fixture(scope="module")
def package_scores(pairs) -> dict[str, list[float]]:
    return {kind: [anls_star_package.anls_score(r, p) for p, r in kind_pairs] for kind, kind_pairs in pairs.items()}


def _ours_and_choices(prediction, reference) -> tuple[float, set[str]]:
    """Our ANLS*, and which documented leaf choices changed a leaf it compared (numbers, case folding)."""
    met: set[str] = set()

    def leaf(p, r):
        ours = leaf_score(p, r)
        if ours != paper_leaf_score(p, r):
            met.add("numbers" if numbers_equal(p, r) is not None else "case folding")
        return ours

    return anls_star(prediction, reference, leaf=leaf), met


@pytest.mark.parametrize("kind", ["flat", "nested"])
def test_anls_star_equals_the_package_where_no_documented_choice_applies(pairs, package_scores, kind):
    compared = agree = 0
    explained: dict[str, int] = {}
    for (prediction, reference), theirs in zip(pairs[kind], package_scores[kind]):
        ours, met = _ours_and_choices(prediction, reference)
        assert ours == anls_star(prediction, reference)
        if not met:
            compared += 1
            # equal up to float summation order (the package sums one flat list of leaves)
            assert ours == pytest.approx(theirs, abs=1e-12), (prediction, reference)
            agree += 1
        elif abs(ours - theirs) > 1e-12:
            for choice in met:
                explained[choice] = explained.get(choice, 0) + 1
    assert compared == agree and compared >= 0.8 * len(pairs[kind])
    assert set(explained) <= {"numbers", "case folding"}


@pytest.mark.parametrize("kind", ["flat", "nested"])
def test_anls_star_with_the_papers_leaf_equals_the_package_everywhere(pairs, package_scores, kind):
    """Structure, weighting, None handling and list matching are the paper's: only the leaf rule differs."""
    for (prediction, reference), theirs in zip(pairs[kind], package_scores[kind]):
        assert anls_star(prediction, reference, leaf=paper_leaf_score) == pytest.approx(theirs, abs=1e-12), \
            (prediction, reference)


@pytest.mark.parametrize("kind", ["flat", "nested"])
def test_field_scores_equal_the_packages_key_scores(pairs, kind):
    """Per top-level field, ours is the mean over the field's leaves, as the package's ``return_key_scores``."""
    for prediction, reference in pairs[kind]:
        if not isinstance(prediction, dict):
            continue
        _, key_scores = anls_star_package.anls_score(reference, prediction, return_key_scores=True)
        fields, _ = field_scores(prediction, reference, leaf=paper_leaf_score)
        assert fields == pytest.approx({k: key_scores[k].anls_score for k in reference}, abs=1e-12)


@pytest.mark.parametrize("prediction, reference", [
    ({"a": "x", "b": None}, {"a": "x"}), ({"a": "x"}, {"a": "x", "b": None}), ({"a": "", "b": []}, {"a": None, "b": None}),
    ({"a": None, "b": None}, {"a": "", "b": []}), ({"a": [None, ""]}, {"a": [None, None]}), ({"a": [[]]}, {"a": [[], []]}),
    ({"a": [{}]}, {"a": [None]}), ({"a": []}, {"a": {}}), ([None], []), ([], {}), (["x"], "x"), ({"a": "x"}, {"a": {}}),
    ({"k": "ok", "items": [{"a": "9", "b": "9"}, {"c": "9"}]}, {"k": "ok", "items": [{"a": "1", "b": "2"}, {"c": "1"}]}),
    ({"k": "ok", "items": ["zz"]}, {"k": "ok", "items": ["a", {"b": "1", "c": "2", "d": "3"}]}),
    ({"x": {"a": "1", "b": "2", "c": "3"}}, {"x": "s"}), ({"a": True}, {"a": "true"}), ({"a": True}, {"a": 1}),
])
def test_anls_star_edge_cases_equal_the_package(prediction, reference):
    assert anls_star(prediction, reference) == pytest.approx(anls_star_package.anls_score(reference, prediction))


def test_cer_equals_jiwer_without_its_whitespace_strip(receipts):
    jiwer = pytest.importorskip("jiwer", reason="the CER cross-check needs jiwer==4.0.0")
    chars = jiwer.ReduceToListOfListOfChars()      # jiwer's cer_default also strips the ends: not ours
    rng = random.Random(5)
    texts = ["\n".join(_ocr_lines(stem)) for stem, _ in receipts]
    pairs = [(_edit(t, rng, rng.choice([1, 5, 40, 200])), t) for t in texts] + [(" " + t + "\n", t) for t in texts]
    for prediction, reference in pairs:
        theirs = jiwer.cer(reference, prediction, reference_transform=chars, hypothesis_transform=chars)
        assert edit_rates(prediction, reference)[0] == pytest.approx(theirs, abs=1e-12)


def test_plain_anls_equals_the_anls_package_but_at_the_threshold(pairs):
    """anls 0.0.2 scores NL == 0.5 as 0 (Biten et al.'s formula); the RRC scripts and anls-star keep 0.5, as we do."""
    anls_package = pytest.importorskip("anls", reason="the ANLS cross-check needs anls==0.0.2")
    leaves = [(p[k], r[k]) for p, r in pairs["flat"] for k in r if isinstance(p.get(k), str) and isinstance(r[k], str)]
    at_threshold = 0
    for prediction, reference in leaves:
        theirs = anls_package.anls_score(prediction, [reference])
        if anls(prediction, reference) != pytest.approx(theirs, abs=1e-12):
            assert anls(prediction, reference) == 0.5 and theirs == 0.0, (prediction, reference)
            at_threshold += 1
    assert len(leaves) > 200 and at_threshold < len(leaves) // 20
