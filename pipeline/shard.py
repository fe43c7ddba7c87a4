"""Scale-out: ``--shard i/N`` gives each machine a deterministic, disjoint part of a shared folder.

A document belongs to a shard by its content hash (the document identity), never by its file
name or position in the folder: a renamed or copied file lands in the same shard, adding files
does not move the others, and the N shards together hold every document exactly once.
``python -m pipeline.merge`` then combines the shards' run folders into one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.errors import ConfigError

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``, 1-based as people count (``1/3``, ``2/3``, ``3/3``)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 1 <= self.index <= self.count:
            raise ConfigError(f"--shard {self.index}/{self.count}: use I/N with 1 <= I <= N, "
                              f"e.g. --shard 1/{max(self.count, 2)} on the first machine")

    @classmethod
    def parse(cls, spec: str) -> Shard:
        """``"2/3"`` -> Shard(2, 3); anything else is a ConfigError that shows the form.

        >>> Shard.parse("2/3")
        Shard(index=2, count=3)
        >>> Shard.parse("0/3")
        Traceback (most recent call last):
        ...
        pipeline.errors.ConfigError: --shard 0/3: use I/N with 1 <= I <= N, e.g. --shard 1/3 on the first machine
        """
        match = _SPEC.match(spec)
        if not match:
            raise ConfigError(f"--shard {spec!r}: expected I/N, e.g. --shard 1/4 (shard 1 of 4)")
        return cls(int(match[1]), int(match[2]))

    def contains(self, doc_id: str) -> bool:
        """Whether this shard owns a document, from its sha256 hex content hash.

        The first 64 bits of a sha256 are uniform, so shards come out near-equal in documents.

        >>> doc = "a3" * 32
        >>> [Shard(i, 3).contains(doc) for i in (1, 2, 3)]
        [False, False, True]
        >>> Shard(1, 1).contains(doc)
        True
        """
        return int(doc_id[:16], 16) % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
