"""Keeps notes' chunks in MongoDB in step with the notes (the worker's `index_pending` job,
which drains the backlog of changed notes in batches; `index_note` indexes one).

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
from pymongo import InsertOne, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import BulkWriteError
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
PENDING_SET = "search:pending"  # note ids waiting for `index_pending`
PENDING_BATCH = 256  # notes per batch: one embedding call, one bulk write
DUPLICATE_KEY = 11000
NOTE_FIELDS = {"title": 1, "body": 1, "space_id": 1, "tags": 1}


@dataclass(slots=True)
class IndexResult:
    chunks: int = 0
    embedded: int = 0  # chunks sent to the embedder by this run
    kept: int = 0  # chunks whose vector was reused (text unchanged)
    removed: int = 0
    lexical_only: bool = False  # the embedder was unavailable

    def add(self, other: IndexResult) -> None:
        self.chunks += other.chunks
        self.embedded += other.embedded
        self.kept += other.kept
        self.removed += other.removed
        self.lexical_only = self.lexical_only or other.lexical_only


class ChunkIndexer:
    def __init__(self, *, redis: Redis, embedder: Embedder, spec: ChunkSpec | None = None):
        self.redis = redis
        self.embedder = embedder
        self.spec = spec or ChunkSpec()
        self.embedded_total = 0

    async def announce(self, note_ids: list[str]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for note_id in note_ids:
                pipe.xadd(
                    CHANGES_STREAM, {"note": note_id}, maxlen=CHANGES_MAXLEN, approximate=True
                )
            await pipe.execute()

    async def mark_pending(self, note_ids: list[str]) -> None:
        """Put changed notes on the backlog `index_pending` drains (a set: an edit burst on
        one note is indexed once)."""
        if note_ids:
            await self.redis.sadd(PENDING_SET, *note_ids)

    async def take_pending(self, count: int) -> list[str]:
        taken: Any = await self.redis.spop(PENDING_SET, count)
        return [t.decode() if isinstance(t, bytes) else str(t) for t in taken or []]

    async def index_pending(self, batch: int = PENDING_BATCH) -> IndexResult:
        """Drain the backlog, `batch` notes at a time: one read of the notes, one of their
        chunks, one embedding call, one bulk write per batch. A failed batch goes back on
        the backlog (the job is retried)."""
        total = IndexResult()
        while note_ids := await self.take_pending(batch):
            try:
                result = await self.index_notes(note_ids)
            except BaseException:
                await self.mark_pending(note_ids)
                raise
            total.add(result)
        return total

    async def index_note(self, note_id: str) -> IndexResult:
        return await self.index_notes([note_id])

    async def index_notes(self, note_ids: list[str]) -> IndexResult:
        coll = SearchChunk.get_pymongo_collection()
        nids = list(dict.fromkeys(ObjectId(n) for n in note_ids if ObjectId.is_valid(n)))
        raws = {
            raw["_id"]: raw
            async for raw in Note.get_pymongo_collection().find(
                {"_id": {"$in": nids}, "deleted_at": None}, NOTE_FIELDS
            )
        }
        result = IndexResult()
        gone = [n for n in nids if n not in raws]
        if gone:
            result.removed += (await coll.delete_many({"note_id": {"$in": gone}})).deleted_count
        live = [n for n in nids if n in raws]
        chunks = {
            n: chunk_markdown(
                raws[n].get("body", ""), title=raws[n].get("title", ""), spec=self.spec
            )
            for n in live
        }
        existing: dict[str, Any] = {}
        stored: set[str] = set()
        async for doc in coll.find(
            {"note_id": {"$in": live}},
            {"chunk_id": 1, "content_hash": 1, "vector": 1, "embedder": 1},
        ):
            stored.add(doc["chunk_id"])
            if doc.get("vector") is not None and doc.get("embedder") == self.embedder.name:
                existing[doc["content_hash"]] = doc["vector"]
        missing: dict[str, str] = {}  # content hash -> the text to embed (once per batch)
        for n in live:
            for c in chunks[n]:
                if c.content_hash not in existing:
                    missing[c.content_hash] = embed_text(
                        raws[n].get("title", ""), c.heading_path, c.text
                    )
        vectors: dict[str, Binary] = {}
        if missing:
            try:
                embedded = await self.embedder.embed_documents(list(missing.values()))
                for h, v in zip(missing, embedded, strict=True):
                    vectors[h] = encode_vector(v)
                result.embedded = len(missing)
                self.embedded_total += len(missing)
            except EmbedderUnavailable as exc:
                log.warning("embedder unavailable, lexical only", extra={"error": str(exc)})
                result.lexical_only = True
        now = utcnow()
        ops: list[InsertOne[Any] | ReplaceOne[Any]] = []
        ids = []
        for n in live:
            raw = raws[n]
            seen: dict[str, int] = {}
            for c in chunks[n]:
                k = seen.get(c.content_hash, 0)
                seen[c.content_hash] = k + 1
                chunk_id = f"{n}:{c.content_hash}" + (f":{k}" if k else "")
                ids.append(chunk_id)
                vector = existing.get(c.content_hash) or vectors.get(c.content_hash)
                doc = {
                    "chunk_id": chunk_id,
                    "note_id": n,
                    "space_id": raw["space_id"],
                    "title": raw.get("title", ""),
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
                # A new chunk is a plain insert (far cheaper than an upsert's lookup).
                if chunk_id in stored:
                    ops.append(ReplaceOne({"chunk_id": chunk_id}, doc, upsert=True))
                else:
                    ops.append(InsertOne(doc))
        result.chunks = len(ops)
        result.kept = result.chunks - result.embedded if not result.lexical_only else 0
        if ops:
            try:
                await coll.bulk_write(ops, ordered=False)
            except BulkWriteError as exc:
                # Another run inserted the same chunk (same note, same content hash) first.
                if any(e.get("code") != DUPLICATE_KEY for e in exc.details["writeErrors"]):
                    raise
        if live:
            stale = await coll.delete_many({"note_id": {"$in": live}, "chunk_id": {"$nin": ids}})
            result.removed += stale.deleted_count
        await self.announce([str(n) for n in nids])
        return result

    async def drop_notes(self, note_ids: list[Any], session: AsyncClientSession) -> None:
        """A purge hook: the purged notes' chunks go in the purge transaction."""
        await SearchChunk.get_pymongo_collection().delete_many(
            {"note_id": {"$in": list(note_ids)}}, session=session
        )
