"""Chunks of notes with their embeddings, written by the worker's `index_note` job."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from server.core.clock import utcnow


class SearchChunk(Document):
    """`chunk_id` = `<noteId>:<content hash>[:n]`; `vector` is a BSON float32 vector
    (vectors.py; None until an embedder answered: the chunk is then found lexically only)."""

    chunk_id: str
    note_id: PydanticObjectId
    space_id: PydanticObjectId
    title: str
    tags: list[str] = Field(default_factory=list)
    heading_path: list[str] = Field(default_factory=list)
    text: str
    start: int
    end: int
    page: int | None = None
    content_hash: str
    embedder: str | None = None
    vector: bytes | None = None
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "search_chunks"
        indexes = [
            IndexModel([("chunk_id", ASCENDING)], unique=True, name="chunk_id"),
            IndexModel([("note_id", ASCENDING)], name="note"),
            IndexModel([("space_id", ASCENDING)], name="space"),
        ]
