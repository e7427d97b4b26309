"""The offline default embedder: our unpadded mean pooling gives WordLlama's own vectors
(faster ingestion must not change a single ranking), and an empty text is a zero vector."""

from __future__ import annotations

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
