"""ANLS* on nested JSON (Peer et al. 2024): dicts by key, lists by optimal assignment, leaves by ANLS or value.

Structure as the paper and its reference package (anls-star 1.0.1) define it: a value's score is the
sum of its leaf scores over its pairwise length, the number of leaves compared, missing and
hallucinated ones included (``weighting="leaf"``). So a receipt missing a 6-leaf ``menu`` of 9
leaves scores 3/9. Rules that follow from the package:

- None in the reference matches None, "", [], {} or a missing key; any other prediction scores 0;
- a key on one side only costs its leaves, a hallucinated key even when its value is None;
- list items are matched one-to-one (Hungarian) for the highest total of per-pair ANLS*; every
  pair the assignment makes counts its leaves, unmatched items count theirs;
- kinds that differ (a dict against a string) score 0 over the larger side's leaves.

``weighting="key"`` (this project's earlier figures, reported as ``anls_star_key``) counts every
dict and list as one leaf of its parent: each key, and each list item, weighs the same whatever it
holds. Leaves compare by ``leaf_score``, this project's choices; ``paper_leaf_score`` is the package's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pipeline.evaluation.matching import assign, equal_pairs, same_json
from pipeline.evaluation.numbers import numbers_equal
from pipeline.evaluation.text import normalise, similarity

WEIGHTINGS = ("leaf", "key")


@dataclass
class Trace:
    """What the comparison saw on the way, for the failure taxonomy."""

    leaves: list[tuple[str, object, object, float]] = field(default_factory=list)  # (path, pred, ref, score)
    missing: list[str] = field(default_factory=list)        # reference keys/items the prediction lacks
    hallucinated: list[str] = field(default_factory=list)   # prediction keys/items the reference lacks


def leaf_score(prediction, reference) -> float:
    """One pair of scalars: the same text scores 1, then two amounts by value, else ANLS of the texts.

    Booleans compare as their text, as in the paper ("true" is True, 1 is not).

    >>> leaf_score("1,000.50", 1000.5), leaf_score("Nasi", "nasi "), leaf_score("9.00", "9.60")
    (1.0, 1.0, 0.0)
    >>> leaf_score(True, "true"), leaf_score(True, 1), leaf_score("42183017", "42283017")
    (1.0, 0.0, 0.875)
    >>> leaf_score("STRASSE", "Straße")   # case-folded: ß is ss
    1.0
    """
    a, b = normalise(str(prediction)), normalise(str(reference))
    if a == b:
        return 1.0
    same = numbers_equal(prediction, reference)
    if same is not None:
        return 1.0 if same else 0.0
    return similarity(a, b)


def paper_leaf_score(prediction, reference) -> float:
    """anls-star 1.0.1's leaf: ANLS of ``str()`` of both, lower-cased and whitespace-normalised.

    >>> paper_leaf_score("1,000.50", 1000.5), paper_leaf_score("9.00", "9.60"), paper_leaf_score("STRASSE", "Straße")
    (0.75, 0.75, 0.7142857142857143)
    """
    return similarity(" ".join(str(prediction).lower().split()), " ".join(str(reference).lower().split()))


def _empty(value) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def _size(value, weighting: str) -> int:
    """Leaves under a value (a dict or list counts 1 under the key weighting).

    >>> _size({"a": [1, 2], "b": None, "c": {}}, "leaf"), _size({"a": [1, 2]}, "key")
    (3, 1)
    """
    if weighting == "key" or not isinstance(value, (dict, list)):
        return 1
    return sum(_size(v, weighting) for v in (value.values() if isinstance(value, dict) else value))


class _Scorer:
    """One comparison's settings; ``pair`` gives (sum of leaf scores, pairwise length, exact)."""

    def __init__(self, weighting: str, leaf) -> None:
        if weighting not in WEIGHTINGS:
            raise ValueError(f"unknown ANLS* weighting {weighting!r}; use one of {', '.join(WEIGHTINGS)}")
        self.weighting, self.leaf = weighting, leaf

    def node(self, total: float, length: int, exact: bool) -> tuple[float, int, bool]:
        if self.weighting == "key":   # a dict or list is one leaf of its parent, scored by its mean
            return (total / length if length else 1.0), 1, exact
        return total, length, exact

    def pair(self, pred, ref, trace: Trace | None, path: str) -> tuple[float, int, bool]:
        if isinstance(ref, dict):
            if isinstance(pred, dict):
                total, length, exact = 0.0, 0, True
                for _, s, n, same in self.keys(pred, ref, trace, path):
                    total, length, exact = total + s, length + n, exact and same
                return self.node(total, length, exact)
        elif isinstance(ref, list):
            if isinstance(pred, list):
                return self.items(pred, ref, trace, path)
        elif ref is None:
            score = float(_empty(pred))
            length = max(_size(pred, self.weighting), 1) if isinstance(pred, (dict, list)) else 1
            if trace is not None:
                trace.leaves.append((path, pred, ref, score))
            return score, length, score == 1.0
        elif pred is not None and not isinstance(pred, (dict, list)):
            score = self.leaf(pred, ref)
            if trace is not None:
                trace.leaves.append((path, pred, ref, score))
            return score, 1, pred == ref
        # kinds differ (a dict against a string, a list against None): nothing matches
        if trace is not None:
            trace.leaves.append((path, pred, ref, 0.0))
        return 0.0, max(_size(pred, self.weighting), _size(ref, self.weighting)), False

    def keys(self, pred: dict, ref: dict, trace: Trace | None, path: str):
        """(key, score sum, length, exact) per reference key, then per hallucinated key."""
        for key, value in ref.items():
            sub = f"{path}.{key}" if path else str(key)
            if key in pred:
                yield (key, *self.pair(pred[key], value, trace, sub))
                continue
            score, length, _ = self.pair(None, value, None, sub)   # scored as None, traced as missing
            if trace is not None and not _empty(value):
                trace.missing.append(sub)
            yield key, score, length, _empty(value)
        for key, value in pred.items():
            if key not in ref:
                if trace is not None:
                    trace.hallucinated.append(f"{path}.{key}" if path else str(key))
                yield key, 0.0, max(_size(value, self.weighting), 1), False

    def items(self, pred: list, ref: list, trace: Trace | None, path: str) -> tuple[float, int, bool]:
        if same_json(pred, ref):         # equal lists: every item matches itself, nothing to trace
            size = _size(ref, self.weighting)
            return self.node(float(size), size, True)
        pairs = equal_pairs(pred, ref)
        if pairs is not None:            # every pair scores the most a pair can: this assignment is optimal
            total = length = sum(_size(ref[i], self.weighting) for i, _ in pairs)
            found, exact = pairs, len(pred) == len(ref)
        else:                            # both lists hold items here (an empty one has equal pairs: none)
            cells = [[self.pair(p, r, None, "") for p in pred] for r in ref]
            means = [[s / n if n else 1.0 for s, n, _ in row] for row in cells]
            # the assignment maximises the per-pair mean, an exact match nudged up to win ties (as the package)
            pairs = assign([[math.nextafter(m, 2.0) if cell[2] else m for m, cell in zip(row, cells_row)]
                            for row, cells_row in zip(means, cells)])
            total, length = sum(cells[i][j][0] for i, j in pairs), sum(cells[i][j][1] for i, j in pairs)
            found = [(i, j) for i, j in pairs if means[i][j] > 0]     # a pair at 0: a miss and an extra
            exact = len(pred) == len(ref) and all(cells[i][j][2] for i, j in pairs)
            if trace is not None:        # equal pairs hold nothing the taxonomy looks for: only these
                for i, j in found:
                    self.pair(pred[j], ref[i], trace, f"{path}[{i}]")
        matched_ref, matched_pred = {i for i, _ in pairs}, {j for _, j in pairs}
        length += sum(_size(r, self.weighting) for i, r in enumerate(ref) if i not in matched_ref)
        length += sum(_size(p, self.weighting) for j, p in enumerate(pred) if j not in matched_pred)
        if trace is not None:
            found_ref, found_pred = {i for i, _ in found}, {j for _, j in found}
            trace.missing.extend(f"{path}[{i}]" for i in range(len(ref)) if i not in found_ref)
            trace.hallucinated.extend(f"{path}[+{j}]" for j in range(len(pred)) if j not in found_pred)
        return self.node(float(total), length, exact)


def anls_star(prediction, reference, trace: Trace | None = None, path: str = "", *, weighting: str = "leaf",
              leaf=leaf_score) -> float:
    """ANLS* of any JSON values, in [0, 1]: leaf scores over the pairwise length (1 when nothing to compare).

    >>> anls_star({"a": "x", "b": "y"}, {"a": "x", "b": "y"})
    1.0
    >>> anls_star({"a": "x", "extra": 1}, {"a": "x", "b": "y"})   # 3 leaves compared, 1 right
    0.3333333333333333
    >>> anls_star(["b", "a"], ["a", "b", "c"]), anls_star(["a", "zz"], ["a", "b"])
    (0.6666666666666666, 0.5)
    >>> ref = {"total": "9.00", "tax": "0.50", "menu": [{"nm": "Tea", "price": "2"}, {"nm": "Rice", "price": "7"}]}
    >>> anls_star({"total": "9.00", "tax": "0.50"}, ref), anls_star({"total": "9.00", "tax": "0.50"}, ref, weighting="key")
    (0.3333333333333333, 0.6666666666666666)
    >>> anls_star({"a": None}, {"a": None, "b": None}), anls_star({"a": "x", "b": None}, {"a": "x"})
    (1.0, 0.5)
    >>> anls_star([], []), anls_star({}, {}), anls_star(None, None), anls_star([1], {"a": 1}), anls_star({"a": True}, {"a": 1})
    (1.0, 1.0, 1.0, 0.0, 0.0)
    """
    total, length, _ = _Scorer(weighting, leaf).pair(prediction, reference, trace, path)
    return total / length if length else 1.0


def field_scores(prediction: dict, reference: dict, trace: Trace | None = None, *, weighting: str = "leaf",
                 leaf=leaf_score) -> tuple[dict[str, float], float]:
    """Per reference key its field's ANLS*, and the whole object's (what ``anls_star`` gives).

    >>> field_scores({"a": "x", "b": ["p", "q"], "c": "extra"}, {"a": "x", "b": ["p", "r"]})
    ({'a': 1.0, 'b': 0.5}, 0.5)
    """
    scorer = _Scorer(weighting, leaf)
    fields: dict[str, float] = {}
    total, length = 0.0, 0
    for key, score, n, _ in scorer.keys(prediction, reference, trace, ""):
        if key in reference:
            fields[key] = score / n if n else 1.0
        total, length = total + score, length + n
    total, length, _ = scorer.node(total, length, True)
    return fields, total / length if length else 1.0
