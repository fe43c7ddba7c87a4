"""Dataset statistics: per split and task, records, pages, documents, lengths and field coverage."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


def percentile(sorted_values: list[int], pct: float) -> int:
    """Nearest-rank percentile of an already sorted list (0 for an empty one).

    >>> percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), percentile([], 50)
    (9, 0)
    """
    if not sorted_values:
        return 0
    rank = max(1, -(-len(sorted_values) * pct // 100))  # ceil without floats
    return sorted_values[int(rank) - 1]


@dataclass
class _TaskStats:
    records: int = 0
    pages: set = field(default_factory=set)
    documents: set = field(default_factory=set)
    tokens: list[int] = field(default_factory=list)
    filled: dict[str, int] = field(default_factory=dict)  # field -> records where it is not null/empty

    def to_dict(self) -> dict:
        tokens = sorted(self.tokens)
        return {"records": self.records, "pages": len(self.pages), "documents": len(self.documents),
                "tokens": {"p50": percentile(tokens, 50), "p90": percentile(tokens, 90),
                           "p99": percentile(tokens, 99), "max": tokens[-1] if tokens else 0},
                "field_coverage": {k: round(n / self.records, 3) for k, n in sorted(self.filled.items())}}


class SplitStats:
    def __init__(self) -> None:
        self.by_split: dict[str, dict[str, _TaskStats]] = defaultdict(lambda: defaultdict(_TaskStats))

    def add(self, sample, label: dict) -> None:
        stats = self.by_split[sample.split][sample.task]
        stats.records += 1
        stats.pages.add((sample.doc_id, sample.page_index))
        stats.documents.add(sample.doc_id)
        stats.tokens.append(sample.tokens)
        filled = stats.filled
        for key, value in label.items():  # every field appears in the coverage table, filled or not
            filled[key] = filled.get(key, 0) + (value is not None and value != "" and value != [] and value != {})

    def to_dict(self) -> dict:
        out = {}
        for split in sorted(self.by_split):
            tasks = self.by_split[split]
            out[split] = {"records": sum(t.records for t in tasks.values()),
                          "pages": len(set().union(*(t.pages for t in tasks.values()))),
                          "documents": len(set().union(*(t.documents for t in tasks.values()))),
                          "tasks": {name: t.to_dict() for name, t in sorted(tasks.items())}}
        return out
