"""Single-use, expiring tokens sent by e-mail (verify, reset, lockdown links).

The raw token goes into the e-mail only; the database keeps its SHA-256. Consuming is one
atomic compare-and-set (`used_at: null` → now), so a token works exactly once. Tokens that
share a `group` (the "allow once" and "trust this" links of one mail) are used up together.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from beanie import Document, PydanticObjectId
from bson import ObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel, ReturnDocument

from auth.tokens import sha256_hex
from server.core.clock import utcnow
from server.core.errors import BadRequest


class OneTimeToken(Document):
    purpose: str
    token_hash: str
    user_id: PydanticObjectId
    group: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None

    class Settings:
        name = "one_time_tokens"
        indexes = [
            IndexModel([("token_hash", ASCENDING)], unique=True, name="token_hash_unique"),
            IndexModel([("user_id", ASCENDING), ("purpose", ASCENDING)], name="user_purpose"),
            IndexModel([("group", ASCENDING)], name="group"),
            IndexModel([("expires_at", ASCENDING)], name="expires_at"),
        ]


class OneTimeTokens:
    async def issue(
        self,
        purpose: str,
        user_id: ObjectId | None,
        ttl_seconds: int,
        *,
        data: dict[str, Any] | None = None,
        group: str | None = None,
        replace_previous: bool = True,
    ) -> str:
        """A new raw token; earlier unused tokens of the same purpose stop working."""
        if user_id is None:
            raise ValueError("a one-time token needs a stored user")
        now = utcnow()
        if replace_previous:
            await OneTimeToken.get_pymongo_collection().update_many(
                {"user_id": user_id, "purpose": purpose, "used_at": None},
                {"$set": {"used_at": now}},
            )
        raw = secrets.token_urlsafe(32)
        await OneTimeToken(
            purpose=purpose,
            token_hash=sha256_hex(raw),
            user_id=user_id,
            group=group,
            data=data or {},
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        ).insert()
        return raw

    async def consume(self, purposes: str | tuple[str, ...], raw: str) -> OneTimeToken:
        """Use a token up (400 `INVALID_LINK` when unknown, used, expired or for another use)."""
        wanted = (purposes,) if isinstance(purposes, str) else purposes
        now = utcnow()
        doc = await OneTimeToken.get_pymongo_collection().find_one_and_update(
            {
                "token_hash": sha256_hex(raw),
                "purpose": {"$in": list(wanted)},
                "used_at": None,
                "expires_at": {"$gt": now},
            },
            {"$set": {"used_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise BadRequest(
                "This link is not valid any more. Request a new one.", code="INVALID_LINK"
            )
        token = OneTimeToken.model_validate(doc)
        if token.group:
            await OneTimeToken.get_pymongo_collection().update_many(
                {"group": token.group, "used_at": None}, {"$set": {"used_at": now}}
            )
        return token

    async def cleanup(self) -> int:
        result = await OneTimeToken.get_pymongo_collection().delete_many(
            {"expires_at": {"$lt": utcnow() - timedelta(days=1)}}
        )
        return int(result.deleted_count)
