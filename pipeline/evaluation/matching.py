"""Matching list items: JSON equality, equal partners, and the optimal one-to-one assignment."""

from __future__ import annotations

from itertools import permutations

_BRUTE_FORCE_MAX = 5   # at most 5!/0! = 120 orders to try


def same_json(a, b) -> bool:
    """Equal as JSON values: like ``==``, but a boolean equals only a boolean (``True == 1`` in Python).

    >>> same_json({"a": [1, "x"]}, {"a": [1.0, "x"]}), same_json({"a": True}, {"a": 1}), same_json([0], [False])
    (True, False, False)
    """
    return a == b and _same_kinds(a, b)   # one C-level comparison settles most pairs


def _same_kinds(a, b) -> bool:
    """Of two values known to be ``==``: no boolean stands for a number (same keys and lengths already)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, dict):
        for key, value in a.items():
            if not _same_kinds(value, b[key]):
                return False
    elif isinstance(a, list):
        for x, y in zip(a, b):
            if not _same_kinds(x, y):
                return False
    return True


def equal_pairs(pred: list, ref: list) -> list[tuple[int, int]] | None:
    """(ref, pred) index pairs of equal items when every item of the shorter list has an equal partner, else None.

    Equality is an equivalence, so taking the first free equal item never misses a full matching.

    >>> equal_pairs(["a", "c"], ["a", "b", "c"]), equal_pairs(["a", "x"], ["a", "b"]), equal_pairs([], ["a"])
    ([(0, 0), (2, 1)], None, [])
    """
    free = list(range(len(ref)))
    pairs = []
    for j, item in enumerate(pred):
        for at, i in enumerate(free):
            if same_json(item, ref[i]):
                pairs.append((free.pop(at), j))
                break
        else:
            if len(pred) <= len(ref):    # an item of the shorter side without a partner
                return None
    return pairs if len(pairs) == min(len(pred), len(ref)) else None


def assign(matrix: list[list[float]]) -> list[tuple[int, int]]:
    """Index pairs maximising the total score; tiny lists by brute force (a scipy call costs more).

    >>> assign([[0.9, 0.8], [0.85, 0.1]])
    [(0, 1), (1, 0)]
    """
    rows, cols = len(matrix), len(matrix[0])
    if rows == cols and all(matrix[i][i] >= 1.0 for i in range(rows)):   # in order and perfect: optimal already
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
