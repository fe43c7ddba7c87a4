"""ANLS* on nested JSON: dicts by key, lists by optimal assignment, leaves by ANLS or numeric match.

Peer et al. 2024 ("ANLS* - a universal document processing metric"), with this project's choices:
a key on one side only scores 0 (missing and hallucinated keys both cost), None vs None is 1,
numbers match numerically ("1,000.50" == 1000.5), other leaves by ANLS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import permutations

from pipeline.evaluation.text import anls, numbers_equal

_BRUTE_FORCE_MAX = 5   # at most 5!/0! = 120 orders to try


@dataclass
class Trace:
    """What the comparison saw on the way, for the failure taxonomy."""

    leaves: list[tuple[str, object, object, float]] = field(default_factory=list)  # (path, pred, ref, score)
    missing: list[str] = field(default_factory=list)        # reference keys/items the prediction lacks
    hallucinated: list[str] = field(default_factory=list)   # prediction keys/items the reference lacks


def leaf_score(prediction, reference) -> float:
    """One scalar pair.

    >>> leaf_score(None, None), leaf_score("1,000.50", 1000.5), leaf_score("Nasi", "nasi "), leaf_score(None, "x")
    (1.0, 1.0, 1.0, 0.0)
    >>> leaf_score(True, True), leaf_score(True, "true"), leaf_score(True, 1)
    (1.0, 0.0, 0.0)
    """
    if prediction == reference and type(prediction) is type(reference):
        return 1.0
    if prediction is None or reference is None:
        return 1.0 if prediction is reference else 0.0
    if isinstance(prediction, bool) or isinstance(reference, bool):
        return 1.0 if prediction is reference else 0.0
    same_number = numbers_equal(prediction, reference)
    if same_number is not None:
        return 1.0 if same_number else 0.0
    return anls(str(prediction), str(reference))


def _assign(matrix: list[list[float]]) -> list[tuple[int, int]]:
    """Index pairs maximising the total score; tiny lists by brute force (a scipy call costs more).

    >>> _assign([[0.9, 0.8], [0.85, 0.1]])
    [(0, 1), (1, 0)]
    """
    rows, cols = len(matrix), len(matrix[0])
    if rows == cols and all(matrix[i][i] == 1.0 for i in range(rows)):   # in order and perfect: optimal already
        return [(i, i) for i in range(rows)]
    if max(rows, cols) <= _BRUTE_FORCE_MAX:
        if rows <= cols:
            best = max(permutations(range(cols), rows), key=lambda cs: sum(matrix[i][c] for i, c in enumerate(cs)))
            return list(enumerate(best))
        best = max(permutations(range(rows), cols), key=lambda rs: sum(matrix[r][j] for j, r in enumerate(rs)))
        return sorted((r, j) for j, r in enumerate(best))
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    r, c = linear_sum_assignment(np.asarray(matrix), maximize=True)
    return list(zip(r.tolist(), c.tolist()))


def anls_star(prediction, reference, trace: Trace | None = None, path: str = "") -> float:
    """ANLS* of any JSON values, in [0, 1].

    Lists: items matched one-to-one for the best total, score = sum of matched / max(len), so a
    missing and a hallucinated item both cost. Dicts: mean over the union of keys.

    >>> anls_star({"a": "x", "b": "y"}, {"a": "x", "b": "y"})
    1.0
    >>> anls_star({"a": "x", "extra": 1}, {"a": "x", "b": "y"})   # union of 3 keys, 1 right
    0.3333333333333333
    >>> anls_star(["b", "a"], ["a", "b", "c"])   # 2 matched of max(2, 3)
    0.6666666666666666
    >>> anls_star(["a", "zz"], ["a", "b"])       # "zz" matches nothing: a hallucinated and a missing item
    0.5
    >>> anls_star([], []), anls_star({}, {}), anls_star(None, None), anls_star([1], {"a": 1})
    (1.0, 1.0, 1.0, 0.0)
    """
    if type(prediction) is type(reference) and prediction == reference:
        # equal values score 1 and leave nothing to trace (no missing, extra or wrong leaf); nested
        # True == 1 is the one inequality this shortcut lets through
        return 1.0
    if isinstance(reference, dict) or isinstance(prediction, dict):
        if not (isinstance(reference, dict) and isinstance(prediction, dict)):
            if trace is not None:
                trace.leaves.append((path, prediction, reference, 0.0))
            return 0.0
        keys = list(reference) + [k for k in prediction if k not in reference]
        if not keys:
            return 1.0
        total = 0.0
        for key in keys:
            sub = f"{path}.{key}" if path else str(key)
            if key not in prediction:
                if trace is not None:
                    trace.missing.append(sub)
            elif key not in reference:
                if trace is not None:
                    trace.hallucinated.append(sub)
            else:
                total += anls_star(prediction[key], reference[key], trace, sub)
        return total / len(keys)
    if isinstance(reference, list) or isinstance(prediction, list):
        if not (isinstance(reference, list) and isinstance(prediction, list)):
            if trace is not None:
                trace.leaves.append((path, prediction, reference, 0.0))
            return 0.0
        if not reference and not prediction:
            return 1.0
        if not reference or not prediction:
            if trace is not None:
                (trace.missing if reference else trace.hallucinated).extend(
                    f"{path}[{i}]" for i in range(len(reference or prediction)))
            return 0.0
        matrix = [[anls_star(p, r) for r in reference] for p in prediction]
        pairs = [(i, j) for i, j in _assign(matrix) if matrix[i][j] > 0]
        if trace is not None:
            for i, j in pairs:    # walk matched pairs again, now recording what they hold
                anls_star(prediction[i], reference[j], trace, f"{path}[{j}]")
            matched_pred, matched_ref = {i for i, _ in pairs}, {j for _, j in pairs}
            trace.missing.extend(f"{path}[{j}]" for j in range(len(reference)) if j not in matched_ref)
            trace.hallucinated.extend(f"{path}[+{i}]" for i in range(len(prediction)) if i not in matched_pred)
        return sum(matrix[i][j] for i, j in pairs) / max(len(prediction), len(reference))
    score = leaf_score(prediction, reference)
    if trace is not None:
        trace.leaves.append((path, prediction, reference, score))
    return score
