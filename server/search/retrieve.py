"""Ranking for each search mode over the embedded index, with pseudo-relevance feedback in
hybrid mode.

Hybrid: fuse the lexical and semantic lists (RRF), take the top `feedback_docs` rows of that
first fused list as if they were relevant, expand the query with them — lexically, their
most distinctive terms (tf · idf over the readable rows) added at a low weight; semantically,
Rocchio: the query vector plus `feedback_vector_weight` times the mean of their vectors — and
fuse the two expanded lists again. The feedback rows come out of lists that were already
restricted to the readable rows (`mask`), and the expanded queries are scored under the same
mask, so feedback cannot bring in, or be shaped by, a row the actor cannot read. To keep
one matrix product a query, the expanded vector re-scores the `POOL` rows closest to the
first query vector (already masked) instead of every row, and expansion terms held by a
large share of the readable rows are left out (`feedback_max_df`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from server.search.config import SearchConfig
from server.search.fusion import rrf
from server.search.index_embedded import EmbeddedIndex
from server.search.text import terms

POOL = 1000  # the expanded vector re-ranks the first query's closest rows, not every row
MIN_DF_CAP = 100  # in small spaces no expansion term is too common to use


@dataclass(slots=True)
class Ranking:
    lexical: list[int] = field(default_factory=list)
    semantic: list[int] = field(default_factory=list)
    fused: list[tuple[int, float]] = field(default_factory=list)


class Retriever:
    def __init__(self, index: EmbeddedIndex, config: SearchConfig) -> None:
        self.index = index
        self.config = config

    def _fuse(self, lexical: list[int], semantic: list[int]) -> list[tuple[int, float]]:
        weights = [self.config.lexical_weight, self.config.semantic_weight]
        return rrf([lexical, semantic], k=self.config.rrf_k, weights=weights)

    def rank(
        self,
        query: str,
        vector: npt.NDArray[np.float32] | None,
        mask: npt.NDArray[np.bool_],
        *,
        lexical: bool = True,
    ) -> Ranking:
        """One mode's lists: lexical only (`vector` None), semantic only (`lexical` False),
        or hybrid (both, with feedback when `feedback_docs` > 0)."""
        k = self.config.candidates
        weighted = query_weights(query)
        first = self.index.lexical_scores(weighted, mask) if lexical else None
        lex = self.index.top(first, k) if first is not None else []
        pool = self.index.semantic(vector, mask, max(k, POOL)) if vector is not None else []
        sem = pool[:k]
        fused = self._fuse(lex, sem)
        if first is None or vector is None or not (lex and sem) or self.config.feedback_docs <= 0:
            return Ranking(lex, sem, fused)
        feedback = [i for i, _ in fused[: self.config.feedback_docs]]
        added = self.feedback_terms(feedback, mask, exclude=set(weighted))
        extra = {term: self.config.feedback_weight for term in added}
        lex2 = self.index.top(first + self.index.lexical_scores(extra, mask), k)  # BM25 adds up
        sem2 = self.index.rescore(self.rocchio(vector, feedback), pool, k)
        return Ranking(lex2, sem2, self._fuse(lex2, sem2))

    def feedback_terms(
        self, rows: list[int], mask: npt.NDArray[np.bool_], *, exclude: set[str]
    ) -> list[str]:
        """The `feedback_terms` terms of `rows` with the highest mean tf/length · idf, idf
        over the readable rows only (a term's weight does not depend on unreadable rows).
        Terms held by more than `feedback_max_df` of the readable rows (and by more than
        `MIN_DF_CAP` rows) are skipped: their idf adds little, and scoring their long
        postings was the slow tail of hybrid queries."""
        n_docs = int(mask.sum())
        weight: dict[str, float] = {}
        for i in rows:
            row = self.index.row(i)
            counts: dict[str, int] = {}
            for t in terms(" ".join([row.title, *row.heading_path, row.text])):
                counts[t] = counts.get(t, 0) + 1
            length = sum(counts.values()) or 1
            for t, tf in counts.items():
                if t not in exclude:
                    weight[t] = weight.get(t, 0.0) + tf / length
        df = self.index.doc_freqs(list(weight), mask)
        idf = {t: _idf(n_docs, df[t]) for t in weight}
        cap = max(self.config.feedback_max_df * n_docs, MIN_DF_CAP)
        ranked = sorted(
            (t for t in weight if df[t] <= cap), key=lambda t: (-weight[t] * idf[t], t)
        )
        return ranked[: self.config.feedback_terms]

    def rocchio(self, vector: npt.NDArray[np.float32], rows: list[int]) -> npt.NDArray[np.float32]:
        with_vec = [i for i in rows if self.index.has_vec[i]]
        if not with_vec:
            return vector
        mixed = vector + self.config.feedback_vector_weight * self.index.vectors[with_vec].mean(0)
        norm = float(np.linalg.norm(mixed))
        return (mixed / norm).astype(np.float32) if norm else vector


def query_weights(query: str) -> dict[str, float]:
    """Each query term weighted by how often it occurs in the query."""
    out: dict[str, float] = {}
    for t in terms(query):
        out[t] = out.get(t, 0.0) + 1.0
    return out


def _idf(n_docs: int, df: int) -> float:
    return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
