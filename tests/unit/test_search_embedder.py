"""The offline default embedder: our unpadded mean pooling gives WordLlama's own vectors
(faster ingestion must not change a single ranking), and an empty text is a zero vector."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from server.search.embedders import WordLlamaEmbedder, _wordllama_model, normalise

pytestmark = pytest.mark.unit

TEXTS = [
    "The quarterly budget for the zebra sanctuary is forty thousand euros.",
    "short",
    "A much longer passage " * 40 + "that forces the other texts of its batch to be padded.",
    "Ünïcödé and emoji 🦓 survive tokenization",
]


def test_vectors_match_wordllamas_own_padded_embedding():
    embedder = WordLlamaEmbedder(batch_size=3)  # two batches, different padding in each
    ours = embedder._embed(TEXTS)
    theirs = normalise(_wordllama_model().embed(TEXTS, norm=True, batch_size=3))
    assert ours.shape == (4, 256) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_an_empty_text_is_a_zero_vector_not_nan():
    vectors = WordLlamaEmbedder()._embed(["", "zebra"])
    assert not np.isnan(vectors).any()
    assert not vectors[0].any() and vectors[1].any()


async def test_readiness_probe_does_not_wait_for_the_model_load(monkeypatch):
    """Bug: readiness embedded "ping" with the lazily loaded WordLlama model; on a busy
    machine the first load outlasted the 1 s probe limit and /health/ready reported
    `embeddings: degraded` (test_live_and_ready failed under load). The probe now starts the
    load in a thread and answers at once; the model is local, so loading is no outage."""
    started, release = threading.Event(), threading.Event()

    def slow_load(self: WordLlamaEmbedder) -> None:
        started.set()
        release.wait(5)
        self._loaded = True

    monkeypatch.setattr(WordLlamaEmbedder, "_load", slow_load)
    embedder = WordLlamaEmbedder()
    await embedder.probe()
    assert await asyncio.to_thread(started.wait, 5)
    await embedder.probe()  # still loading: still ready
    assert not embedder._loaded
    release.set()
    assert embedder._loading is not None
    await embedder._loading
    await embedder.probe()
    assert embedder._loaded


async def test_readiness_probe_reports_a_failed_model_load(monkeypatch):
    """A model that cannot load (weights missing from the wheel) makes the probe raise, so
    readiness says degraded instead of hiding it."""

    def broken(self: WordLlamaEmbedder) -> None:
        raise OSError("weights missing")

    monkeypatch.setattr(WordLlamaEmbedder, "_load", broken)
    embedder = WordLlamaEmbedder()
    await embedder.probe()
    assert embedder._loading is not None
    await asyncio.wait([embedder._loading])
    with pytest.raises(OSError, match="weights missing"):
        await embedder.probe()
