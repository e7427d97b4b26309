"""How search joins the app (called by the composition root)."""

from __future__ import annotations

from typing import Any

from saq.queue.redis import RedisQueue

from server.search.config import SearchConfig
from server.search.documents import SearchChunk
from server.search.embedders import make_embedder
from server.search.index_embedded import EmbeddedIndex
from server.search.indexer import ChunkIndexer
from server.search.manager import SearchManager
from server.search.routes import SearchController

SEARCH_DOCUMENT_MODELS: list[Any] = [SearchChunk]
SEARCH_ROUTE_HANDLERS: list[Any] = [SearchController]
QUEUE_NAME = "default"


def embeddings_health_check(search: SearchManager) -> Any:
    """Non-critical readiness: an unreachable embedder makes the api `degraded` (notes stay
    searchable lexically), never down."""

    async def embeddings_probe() -> None:
        await search.embedder.embed_query("ping")

    return (embeddings_probe, False)


def search_config(settings: Any) -> SearchConfig:
    return SearchConfig(
        backend=settings.search_backend,
        embedder=settings.embedder,
        rrf_k=settings.search_rrf_k,
        lexical_weight=settings.search_lexical_weight,
        semantic_weight=settings.search_semantic_weight,
    )


def attach_search(services: Any, settings: Any) -> None:
    """The indexer (used by the worker job), the embedded index and the manager; every
    committed note change enqueues `index_note` for that note."""
    config = search_config(settings)
    embedder = make_embedder(
        config.embedder,
        ollama_url=settings.ollama_url,
        ollama_model=settings.ollama_embed_model,
        connect_timeout=settings.ollama_connect_timeout_seconds,
        read_timeout=settings.ollama_embed_timeout_seconds,
    )
    services.search_indexer = ChunkIndexer(redis=services.redis, embedder=embedder)
    dim = settings.ollama_embed_dim if config.embedder == "ollama" else 256
    index = EmbeddedIndex(services.redis, dim=dim)
    services.search = SearchManager(
        index=index,
        embedder=embedder,
        spaces=services.spaces,
        notes=services.notes,
        config=config,
    )
    queue = RedisQueue(services.redis, name=QUEUE_NAME)

    async def enqueue_index(note_ids: list[str]) -> None:
        for note_id in note_ids:
            # No key: a second edit while the first job waits must still be indexed after it.
            await queue.enqueue("index_note", note_id=note_id, timeout=300, retries=3)

    services.notes.store.change_hooks.append(enqueue_index)
    services.notes.purge_hooks.append(services.search_indexer.drop_notes)
