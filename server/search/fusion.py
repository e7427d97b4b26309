"""Reciprocal rank fusion: sum of weight / (k + rank) over the lists an item appears in."""

from __future__ import annotations

from collections.abc import Sequence


def rrf(
    lists: Sequence[Sequence[int]], *, k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    scores: dict[int, float] = {}
    for i, ranked in enumerate(lists):
        w = weights[i] if weights else 1.0
        for rank, item in enumerate(ranked):
            scores[item] = scores.get(item, 0.0) + w / (k + rank + 1)
    return sorted(scores.items(), key=lambda kv: -kv[1])
