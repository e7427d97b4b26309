"""Embedders behind one small interface: batched, unit-length float32 vectors.

`wordllama` is the offline default: its 256-dim `l2_supercat` weights and tokenizer ship in
the wheel, it runs on CPU with numpy (no PyTorch) and nothing is downloaded at run time
(docs/search.md has the measurements behind the choice). `ollama` is for compose and
production: langchain-ollama's `OllamaEmbeddings` with the same timeouts as the chat model.
"""

from __future__ import annotations

import asyncio
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class EmbedderUnavailable(Exception):
    """The embedding service cannot answer now (down, timed out): index lexically only."""


class Embedder(Protocol):
    name: str

    async def embed_documents(self, texts: list[str]) -> Vectors: ...

    async def embed_query(self, text: str) -> Vectors: ...

    async def probe(self) -> None:
        """Raise when the embedder cannot answer now (readiness reports it degraded)."""
        ...


def normalise(vectors: npt.ArrayLike) -> Vectors:
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return (arr / np.where(norms == 0, 1, norms)).astype(np.float32)


_MODEL_LOCK = threading.Lock()
_MODEL: list[Any] = []


def _wordllama_model() -> Any:
    """Loaded once per process (every app built in one process shares the read-only model);
    a readiness probe and a first query may ask for it from two threads at once."""
    if not _MODEL:
        with _MODEL_LOCK:
            if not _MODEL:
                _MODEL.append(_load_wordllama())
    return _MODEL[0]


def _load_wordllama() -> Any:
    import wordllama
    from wordllama import WordLlama

    return WordLlama.load(dim=256, cache_dir=Path(wordllama.__file__).parent, disable_download=True)


@lru_cache(maxsize=1)
def _unpadded_tokenizer() -> Any:
    """The model's tokenizer without padding: WordLlama pads every batch to its longest
    text and then masks the padding out of the mean, which costs most of its time."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(_wordllama_model().tokenizer.to_str())
    tokenizer.no_padding()
    return tokenizer


def _mean_pool(model: Any, texts: list[str]) -> Vectors:
    """WordLlama's embedding (the mean of the token vectors) over unpadded token ids: the
    same vectors as `model.embed`, without the padded (batch, longest, dim) tensor (a
    text with no tokens gets a zero vector where WordLlama gives NaN)."""
    table = model.embedding
    out = np.zeros((len(texts), table.shape[1]), np.float32)
    for i, enc in enumerate(_unpadded_tokenizer().encode_batch(texts, add_special_tokens=False)):
        if enc.ids:
            ids = np.asarray(enc.ids, np.int64).clip(0, table.shape[0] - 1)
            out[i] = table[ids].mean(axis=0)
    return out


class WordLlamaEmbedder:
    """WordLlama from the files inside its wheel (the package's own lookup of the bundled
    tokenizer misses, so we point it at the package folder and forbid downloads)."""

    name = "wordllama-l2_supercat_256"

    def __init__(self, batch_size: int = 256) -> None:
        # Loaded on first use (about 1.3 s), not at start-up: an api process is ready
        # sooner, and one that never embeds (tests, a process behind a worker) never pays.
        self._loaded = False
        self._batch = batch_size
        self._loading: asyncio.Task[None] | None = None

    def _load(self) -> None:
        _unpadded_tokenizer()  # loads the model too
        self._loaded = True

    async def probe(self) -> None:
        """Ready unless the bundled model failed to load. A load under way is not an outage
        (the model is local): the first probe starts it in a thread and answers at once, so
        readiness never waits ~1.3 s (longer on a busy machine) for it."""
        if self._loaded:
            return
        if self._loading is None:
            self._loading = asyncio.create_task(asyncio.to_thread(self._load))
        if self._loading.done():
            self._loading.result()  # re-raises a failed load

    def _embed(self, texts: list[str]) -> Vectors:
        model = _wordllama_model()
        self._loaded = True
        out = np.empty((len(texts), model.embedding.shape[1]), np.float32)
        for i in range(0, len(texts), self._batch):
            out[i : i + self._batch] = _mean_pool(model, texts[i : i + self._batch])
        return normalise(out)

    async def embed_documents(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 256), dtype=np.float32)
        return await asyncio.to_thread(self._embed, texts)

    async def embed_query(self, text: str) -> Vectors:
        if not self._loaded:  # the first call loads the model: off the event loop
            return (await asyncio.to_thread(self._embed, [text]))[0]
        return self._embed([text])[0]  # one short text: faster inline than via a thread


class OllamaEmbedder:
    """`/api/embed` of an Ollama server through langchain-ollama; any transport failure or
    timeout is `EmbedderUnavailable` (the caller degrades to lexical)."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str = "nomic-embed-text",
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        batch_size: int = 64,
    ) -> None:
        from langchain_ollama import OllamaEmbeddings

        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        self.name = f"ollama-{model}"
        self._client = OllamaEmbeddings(
            model=model, base_url=base_url, client_kwargs={"timeout": timeout}
        )
        self._batch = batch_size

    async def embed_documents(self, texts: list[str]) -> Vectors:
        out: list[list[float]] = []
        try:
            for i in range(0, len(texts), self._batch):
                out.extend(await self._client.aembed_documents(texts[i : i + self._batch]))
        except Exception as exc:  # httpx/ollama errors of every kind: the service is out
            raise EmbedderUnavailable(str(exc) or type(exc).__name__) from exc
        return normalise(out) if out else np.zeros((0, 0), dtype=np.float32)

    async def embed_query(self, text: str) -> Vectors:
        try:
            return normalise(await self._client.aembed_query(text))[0]
        except Exception as exc:
            raise EmbedderUnavailable(str(exc) or type(exc).__name__) from exc

    async def probe(self) -> None:
        """A remote service: ready when it embeds a word now."""
        await self.embed_query("ping")


def make_embedder(
    kind: str,
    *,
    ollama_url: str = "",
    ollama_model: str = "nomic-embed-text",
    connect_timeout: float = 5.0,
    read_timeout: float = 60.0,
) -> Embedder:
    if kind == "ollama":
        return OllamaEmbedder(
            base_url=ollama_url,
            model=ollama_model,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
    if kind == "wordllama":
        return WordLlamaEmbedder()
    raise ValueError(f"unknown EMBEDDER {kind!r} (wordllama or ollama)")
