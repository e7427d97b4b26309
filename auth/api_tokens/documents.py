"""A permanent API token: only its SHA-256 is stored."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from server.core.clock import utcnow


class ApiToken(Document):
    user_id: PydanticObjectId
    name: str
    token_hash: str
    prefix: str
    scopes: list[str]
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    class Settings:
        name = "api_tokens"
        indexes = [
            IndexModel([("token_hash", ASCENDING)], unique=True, name="token_hash_unique"),
            IndexModel([("user_id", ASCENDING), ("revoked_at", ASCENDING)], name="user_active"),
        ]
