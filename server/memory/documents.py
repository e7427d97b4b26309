"""A user's memory with its full history (an update appends, nothing is overwritten)."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from server.core.clock import utcnow


class MemoryVersion(BaseModel):
    version: int
    text: str
    via: str
    at: datetime


class Memory(Document):
    user_id: PydanticObjectId
    text: str
    version: int = 1
    via: str = "http"  # the channel of the last change: http, agent, voice…
    history: list[MemoryVersion] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "memories"
        indexes = [
            IndexModel([("user_id", ASCENDING), ("updated_at", DESCENDING)], name="user_recent")
        ]
