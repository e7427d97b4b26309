"""How search joins the app (part of the composition root): the indexer (used by the
worker's `index_pending` job), the embedded index and the manager; every committed note
change puts its notes on the backlog and enqueues `index_pending`, every purge drops their
chunks."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from saq.queue.redis import RedisQueue

from server.compose.config import search_config
from server.notes.manager import NotesManager
from server.search.embedders import make_embedder
from server.search.index_embedded import EmbeddedIndex
from server.search.indexer import ChunkIndexer
from server.search.manager import SearchManager
from server.settings import Settings
from server.spaces.manager import SpaceManager

QUEUE_NAME = "default"  # the SAQ queue the worker serves (server/app.py)


@dataclass(frozen=True, slots=True)
class SearchParts:
    manager: SearchManager
    indexer: ChunkIndexer


def build_search(
    settings: Settings, redis: Redis, spaces: SpaceManager, notes: NotesManager
) -> SearchParts:
    config = search_config(settings)
    embedder = make_embedder(
        config.embedder,
        ollama_url=settings.ollama_url,
        ollama_model=settings.ollama_embed_model,
        connect_timeout=settings.ollama_connect_timeout_seconds,
        read_timeout=settings.ollama_embed_timeout_seconds,
    )
    indexer = ChunkIndexer(redis=redis, embedder=embedder)
    dim = settings.ollama_embed_dim if config.embedder == "ollama" else 256
    manager = SearchManager(
        index=EmbeddedIndex(redis, dim=dim),
        embedder=embedder,
        spaces=spaces,
        notes=notes,
        config=config,
    )
    queue = RedisQueue(redis, name=QUEUE_NAME)

    async def enqueue_index(note_ids: list[str]) -> None:
        await indexer.mark_pending(note_ids)
        # No key: a change that lands while a run is draining must still get a run after it.
        await queue.enqueue("index_pending", timeout=600, retries=3)

    notes.store.change_hooks.append(enqueue_index)
    notes.purge_hooks.append(indexer.drop_notes)
    return SearchParts(manager=manager, indexer=indexer)
