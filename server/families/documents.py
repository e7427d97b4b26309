"""Families and the relationships between their members."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from server.core.clock import utcnow
from server.groups.documents import GroupDocument


class Family(GroupDocument):
    class Settings:
        name = "families"
        indexes = [IndexModel([("deleted_at", ASCENDING)], name="deleted_at")]


class Relationship(Document):
    """Stored once per pair: `a_is` is what user A is to user B, `b_is` what B is to A."""

    family_id: PydanticObjectId
    pair_key: str  # "<smaller id>:<larger id>"
    user_a: PydanticObjectId
    user_b: PydanticObjectId
    a_is: str
    b_is: str
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "family_relationships"
        indexes = [
            IndexModel(
                [("family_id", ASCENDING), ("pair_key", ASCENDING)],
                unique=True,
                name="family_pair",
            ),
            IndexModel([("family_id", ASCENDING), ("user_a", ASCENDING)], name="family_a"),
            IndexModel([("family_id", ASCENDING), ("user_b", ASCENDING)], name="family_b"),
        ]
