"""Keeps a note's chunks in MongoDB in step with the note (the worker's `index_note` job).

Chunks are keyed by content hash, so an edit embeds only the chunks whose text changed; the
rest keep their vectors and just get their new offsets. After each change the note id goes
on a Redis stream that every api process's embedded index follows (`CHANGES_STREAM`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from bson.binary import Binary
from pymongo import ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from redis.asyncio import Redis

from server.core.clock import utcnow
from server.notes.documents import Note
from server.search.chunker import ChunkSpec, chunk_markdown, embed_text
from server.search.documents import SearchChunk
from server.search.embedders import Embedder, EmbedderUnavailable
from server.search.vectors import encode_vector

log = logging.getLogger("server.search")
CHANGES_STREAM = "search:changes"
CHANGES_MAXLEN = 100_000


@dataclass(slots=True)
class IndexResult:
    chunks: int = 0
    embedded: int = 0  # chunks sent to the embedder by this run
    kept: int = 0  # chunks whose vector was reused (text unchanged)
    removed: int = 0
    lexical_only: bool = False  # the embedder was unavailable


class ChunkIndexer:
    def __init__(self, *, redis: Redis, embedder: Embedder, spec: ChunkSpec | None = None):
        self.redis = redis
        self.embedder = embedder
        self.spec = spec or ChunkSpec()
        self.embedded_total = 0

    async def announce(self, note_ids: list[str]) -> None:
        for note_id in note_ids:
            await self.redis.xadd(
                CHANGES_STREAM, {"note": note_id}, maxlen=CHANGES_MAXLEN, approximate=True
            )

    async def index_note(self, note_id: str) -> IndexResult:
        coll = SearchChunk.get_pymongo_collection()
        nid = ObjectId(note_id)
        raw = await Note.get_pymongo_collection().find_one({"_id": nid})
        result = IndexResult()
        if raw is None or raw.get("deleted_at") is not None:
            gone = await coll.delete_many({"note_id": nid})
            result.removed = gone.deleted_count
            await self.announce([note_id])
            return result
        title = raw.get("title", "")
        chunks = chunk_markdown(raw.get("body", ""), title=title, spec=self.spec)
        existing: dict[str, Any] = {}
        async for doc in coll.find(
            {"note_id": nid}, {"content_hash": 1, "vector": 1, "embedder": 1}
        ):
            if doc.get("vector") is not None and doc.get("embedder") == self.embedder.name:
                existing[doc["content_hash"]] = doc["vector"]
        missing = [c for c in chunks if c.content_hash not in existing]
        vectors: dict[str, Binary] = {}
        if missing:
            texts = [embed_text(title, c.heading_path, c.text) for c in missing]
            try:
                embedded = await self.embedder.embed_documents(texts)
                for c, v in zip(missing, embedded, strict=True):
                    vectors[c.content_hash] = encode_vector(v)
                result.embedded = len(missing)
                self.embedded_total += len(missing)
            except EmbedderUnavailable as exc:
                log.warning("embedder unavailable, lexical only", extra={"error": str(exc)})
                result.lexical_only = True
        now = utcnow()
        seen: dict[str, int] = {}
        ops = []
        ids = []
        for c in chunks:
            n = seen.get(c.content_hash, 0)
            seen[c.content_hash] = n + 1
            chunk_id = f"{note_id}:{c.content_hash}" + (f":{n}" if n else "")
            ids.append(chunk_id)
            vector = existing.get(c.content_hash) or vectors.get(c.content_hash)
            doc = {
                "chunk_id": chunk_id,
                "note_id": nid,
                "space_id": raw["space_id"],
                "title": title,
                "tags": raw.get("tags", []),
                "heading_path": list(c.heading_path),
                "text": c.text,
                "start": c.start,
                "end": c.end,
                "page": c.page,
                "content_hash": c.content_hash,
                "embedder": self.embedder.name if vector is not None else None,
                "vector": vector,
                "updated_at": now,
            }
            ops.append(ReplaceOne({"chunk_id": chunk_id}, doc, upsert=True))
        result.chunks = len(chunks)
        result.kept = len(chunks) - result.embedded if not result.lexical_only else 0
        if ops:
            await coll.bulk_write(ops, ordered=False)
        gone = await coll.delete_many({"note_id": nid, "chunk_id": {"$nin": ids}})
        result.removed = gone.deleted_count
        await self.announce([note_id])
        return result

    async def drop_notes(self, note_ids: list[Any], session: AsyncClientSession) -> None:
        """A purge hook: the purged notes' chunks go in the purge transaction."""
        await SearchChunk.get_pymongo_collection().delete_many(
            {"note_id": {"$in": list(note_ids)}}, session=session
        )
