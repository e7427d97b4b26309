"""Memory recall ranking (issue 13 part 6), without services: at most five, relevant only,
vectors reused per (id, version) so an edit re-embeds that memory alone."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from server.memory.recall import MemoryRecall, Remembered

pytestmark = pytest.mark.unit


class CountingEmbedder:
    """A bag-of-letters embedder that counts what it embeds."""

    name = "letters"

    def __init__(self) -> None:
        self.embedded: list[str] = []

    @staticmethod
    def _vector(text: str) -> Any:
        v = np.zeros(26, dtype=np.float32)
        for ch in text.lower():
            if "a" <= ch <= "z":
                v[ord(ch) - 97] += 1
        return v / (np.linalg.norm(v) or 1)

    async def embed_documents(self, texts: list[str]) -> Any:
        self.embedded += texts
        return np.stack([self._vector(t) for t in texts])

    async def embed_query(self, text: str) -> Any:
        return self._vector(text)


async def test_at_most_five_relevant_memories_best_first():
    recall = MemoryRecall(None)
    memories = [Remembered(str(i), 1, f"passport fact number {i}") for i in range(8)]
    memories.append(Remembered("x", 1, "The dog's name is Biscuit"))
    memories.append(Remembered("best", 1, "My passport expires in March"))
    found = await recall.rank("when does my passport expire?", memories, limit=5)
    assert len(found) == 5 and found[0].id == "best"
    assert all(m.id != "x" for m in found)
    assert await recall.rank("hello there", memories, limit=5) == []


async def test_vectors_are_cached_per_version():
    embedder = CountingEmbedder()
    recall = MemoryRecall(embedder, min_similarity=0.99)
    memories = [Remembered("a", 1, "alpha"), Remembered("b", 1, "beta")]
    await recall.rank("alpha", memories, limit=5)
    await recall.rank("beta", memories, limit=5)
    assert embedder.embedded == ["alpha", "beta"]
    await recall.rank("alpha", [Remembered("a", 2, "alpha two"), memories[1]], limit=5)
    assert embedder.embedded == ["alpha", "beta", "alpha two"]
