"""Splitting at the document level, with near-duplicate documents kept together.

Documents are grouped first: a document is one file content (its hash), and two documents that
share a near-identical page (difference hashes within ``MAX_HAMMING`` bits: the same page
re-scanned, re-encoded or stamped) join one group. Whole groups are then assigned to splits,
so no page can leak from training into validation through a copy.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable

import numpy as np

HASH_BITS = 256
MAX_HAMMING = 9     # of 256 bits (3.5%): a re-encode or a stamp, not another page
MIN_INFO_BITS = 8   # blank or near-blank pages hash to almost all zeros: they say nothing about identity
# Pigeonhole: two hashes within 9 bits agree exactly on at least one of 10 disjoint bands, so
# candidate pairs come from pages sharing a band value (found by sorting, in NumPy) instead of
# comparing every pair of pages. Bands are whole bytes: 32 bytes in 10 bands of 3 or 4, wide
# enough that unrelated pages rarely share one by chance.
_BANDS = tuple((32 * i // (MAX_HAMMING + 1), 32 * (i + 1) // (MAX_HAMMING + 1)) for i in range(MAX_HAMMING + 1))
# A band value shared by this many pages is layout, not identity (a letterhead every page of a
# folder carries): comparing all its members would cost O(n^2) for nothing.
_MAX_BUCKET = 256


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        self.parent.setdefault(item, item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def near_duplicate_pairs(pages: Iterable[tuple[str, str]], max_hamming: int = MAX_HAMMING) -> set[tuple[str, str]]:
    """Pairs of distinct documents with a page each whose hashes differ in <= max_hamming bits.

    ``pages`` yields (doc_id, 64-hex page hash); empty and near-blank hashes are ignored.

    >>> h = "f0" * 32
    >>> sorted(near_duplicate_pairs([("a", h), ("b", h[:-1] + "1"), ("c", "0f" * 32), ("d", "0" * 64),
    ...                              ("e", "0" * 63 + "1"), ("f", "0" * 63 + "1")]))
    [('a', 'b')]
    """
    docs, hexes = [], []
    for doc_id, phash in pages:
        if len(phash) == HASH_BITS // 4:
            docs.append(doc_id)
            hexes.append(phash)
    if not docs:
        return set()
    bits = np.frombuffer(bytes.fromhex("".join(hexes)), dtype=np.uint8).reshape(len(docs), HASH_BITS // 8)
    ones = np.unpackbits(bits, axis=1).sum(axis=1)
    kept = np.flatnonzero((ones >= MIN_INFO_BITS) & (ones <= HASH_BITS - MIN_INFO_BITS))
    values: dict[int, int] = {}
    pairs: set[tuple[str, str]] = set()
    for lo, hi in _BANDS:
        key = np.zeros(len(kept), dtype=np.uint32)
        for column in range(lo, hi):
            key = (key << 8) | bits[kept, column]
        full = (1 << (8 * (hi - lo))) - 1
        useful = np.flatnonzero((key != 0) & (key != full))  # a blank (or solid) strip matches everything
        order = useful[np.argsort(key[useful], kind="stable")]
        sorted_keys = key[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        ends = np.r_[starts[1:], len(order)]
        for start, end in zip(starts[(ends - starts) >= 2], ends[(ends - starts) >= 2]):
            if end - start > _MAX_BUCKET:
                continue
            members = [int(kept[i]) for i in order[start:end]]
            for i, a in enumerate(members):
                for b in members[i + 1:]:
                    if docs[a] == docs[b]:
                        continue
                    hash_a = values.setdefault(a, int(hexes[a], 16))
                    hash_b = values.setdefault(b, int(hexes[b], 16))
                    if (hash_a ^ hash_b).bit_count() <= _allowed(hash_a, hash_b, max_hamming):
                        pairs.add((min(docs[a], docs[b]), max(docs[a], docs[b])))
    return pairs


def _allowed(hash_a: int, hash_b: int, max_hamming: int) -> int:
    """Bits two hashes may differ in: fewer for sparse pages, where a few bits are the whole page.

    >>> _allowed((1 << 128) - 1, (1 << 128) - 1, 12), _allowed((1 << 12) - 1, (1 << 14) - 1, 12)
    (12, 2)
    """
    return min(max_hamming, max(2, min(hash_a.bit_count(), hash_b.bit_count()) // 6))


def group_documents(doc_ids: Iterable[str], pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Connected groups: group id (its smallest doc id) -> sorted member doc ids.

    >>> group_documents(["a", "b", "c"], [("a", "c")])
    {'a': ['a', 'c'], 'b': ['b']}
    """
    uf = _UnionFind()
    for doc_id in doc_ids:
        uf.find(doc_id)
    for a, b in pairs:
        uf.union(a, b)
    groups: dict[str, list[str]] = defaultdict(list)
    for doc_id in sorted(uf.parent):
        groups[uf.find(doc_id)].append(doc_id)
    return dict(sorted(groups.items()))


def assign_splits(groups: dict[str, list[str]], val_fraction: float, test_fraction: float, seed: int,
                  forced_val: set[str] = frozenset()) -> dict[str, str]:
    """doc_id -> "train" | "val" | "test", deterministic for a seed.

    A group holding any forced document goes to val whole. Otherwise groups are shuffled with the
    seed and dealt to test, then val, until each holds its fraction of the documents (at least one
    document when the fraction is positive and more than one group exists).

    >>> groups = {d: [d] for d in "abcdefghij"}
    >>> split = assign_splits(groups, 0.2, 0.0, seed=1)
    >>> sorted(split.values()).count("val"), split == assign_splits(groups, 0.2, 0.0, seed=1)
    (2, True)
    """
    total = sum(len(m) for m in groups.values())
    out: dict[str, str] = {}
    free = []
    for gid, members in groups.items():
        if forced_val & set(members):
            out.update(dict.fromkeys(members, "val"))
        else:
            free.append(gid)
    random.Random(seed).shuffle(free)
    for split, fraction in (("test", test_fraction), ("val", val_fraction)):
        if fraction <= 0:
            continue
        want = max(1, round(fraction * total)) if len(groups) > 1 else 0
        have = sum(1 for s in out.values() if s == split)
        while free and have < want and len(free) > 1:  # keep at least one group for training
            members = groups[free.pop()]
            out.update(dict.fromkeys(members, split))
            have += len(members)
    for gid in free:
        out.update(dict.fromkeys(groups[gid], "train"))
    return out


def leakage(split_of: dict[str, str], pairs: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Near-duplicate document pairs that ended in different splits (must be 0)."""
    crossing = sum(1 for a, b in pairs if split_of.get(a) and split_of.get(b) and split_of[a] != split_of[b])
    return {"near_duplicate_pairs_across_splits": crossing}
