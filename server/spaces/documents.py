"""A space holds notes and documents: one per user (personal), family and workspace."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from server.core.clock import utcnow

SpaceKind = Literal["personal", "family", "workspace"]


class Space(Document):
    """`owner_id` is the user (personal) or the family/workspace id; one space per owner.

    `note_count` and `bytes_used` are the quota counters, changed only by conditional
    `$inc` inside the notes manager's transactions (so two writers can't both pass a limit).
    """

    kind: SpaceKind
    owner_id: PydanticObjectId
    name: str = ""
    note_count: int = 0
    bytes_used: int = 0
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "spaces"
        indexes = [
            IndexModel([("kind", ASCENDING), ("owner_id", ASCENDING)], unique=True, name="owner"),
        ]
