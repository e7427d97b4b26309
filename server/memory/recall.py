"""Which memories a message calls to mind: the few most relevant of the user's memories,
by meaning (the search embedder) and shared words, never an unrelated one.

A memory is recalled when its cosine similarity to the message reaches `min_similarity`
or it shares a content word (stemmed, stop words dropped) with it; the best `limit` win.
When the embedder is out (Ollama down) shared words alone decide. Memory vectors (and word
sets) are kept per (id, version) in the process, so an edited memory is embedded again and
nothing else.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from server.search.embedders import Embedder, EmbedderUnavailable
from server.search.text import terms

log = logging.getLogger("server.memory.recall")


@dataclass(frozen=True, slots=True)
class Remembered:
    id: str
    version: int
    text: str


class MemoryRecall:
    def __init__(
        self,
        embedder: Embedder | None,
        *,
        min_similarity: float = 0.3,
        cache_size: int = 20_000,
    ) -> None:
        self.embedder = embedder
        self.min_similarity = min_similarity
        self._vectors: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._terms: OrderedDict[tuple[str, int], frozenset[str]] = OrderedDict()
        self._cache_size = cache_size

    def _terms_of(self, m: Remembered) -> frozenset[str]:
        key = (m.id, m.version)
        found = self._terms.get(key)
        if found is None:
            found = self._terms[key] = frozenset(terms(m.text))
            while len(self._terms) > self._cache_size:
                self._terms.popitem(last=False)
        return found

    async def _similarities(self, text: str, memories: list[Remembered]) -> list[float] | None:
        if self.embedder is None:
            return None
        try:
            missing = [m for m in memories if (m.id, m.version) not in self._vectors]
            if missing:
                vectors = await self.embedder.embed_documents([m.text for m in missing])
                for m, v in zip(missing, vectors, strict=True):
                    self._vectors[(m.id, m.version)] = np.asarray(v, dtype=np.float32)
            query = np.asarray(await self.embedder.embed_query(text), dtype=np.float32)
        except EmbedderUnavailable:
            log.info("memory recall without embeddings (embedder unavailable)")
            return None
        rows = []
        for m in memories:
            self._vectors.move_to_end((m.id, m.version))
            rows.append(self._vectors[(m.id, m.version)].reshape(-1))
        while len(self._vectors) > self._cache_size:
            self._vectors.popitem(last=False)
        return [float(x) for x in np.stack(rows) @ query.reshape(-1)]

    async def rank(self, text: str, memories: list[Remembered], limit: int) -> list[Remembered]:
        """The at most `limit` memories relevant to `text`, most relevant first."""
        if not memories or not text.strip() or limit <= 0:
            return []
        words = set(terms(text))
        similarities = await self._similarities(text, memories)
        scored: list[tuple[float, int]] = []
        for i, m in enumerate(memories):
            shared = len(words & self._terms_of(m))
            similarity = similarities[i] if similarities is not None else 0.0
            if shared == 0 and similarity < self.min_similarity:
                continue
            overlap = shared / max(1, len(words))
            scored.append((max(similarity, 0.0) + overlap, i))
        scored.sort(key=lambda pair: (-pair[0], pair[1]))
        return [memories[i] for _, i in scored[:limit]]
