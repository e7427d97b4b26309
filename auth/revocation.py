"""Ending sessions: Redis first (the access tokens stop at once), then the database in a
transaction that publishes `session.revoked` on commit."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from auth.audit.manager import AuditLog
from auth.config import AuthConfig
from auth.documents import AuthSession
from auth.liveness import HotSessions
from auth.schemas import SessionRevokedEvent
from realtime.bus import EventBus
from server.core.channels import user_channel
from server.core.clock import utcnow
from server.core.db import Tx, run_in_transaction
from server.core.degraded import REDIS_ERRORS

log = logging.getLogger("auth.manager")


class Revocation:
    def __init__(
        self,
        *,
        mongo: AsyncMongoClient[Any],
        redis: Redis,
        bus: EventBus,
        config: AuthConfig,
        audit: AuditLog,
        hot_sessions: HotSessions,
    ) -> None:
        self._mongo = mongo
        self._redis = redis
        self._bus = bus
        self.config = config
        self.audit = audit
        self.hot_sessions = hot_sessions

    async def revoke(
        self, session_ids: Sequence[ObjectId], user_id: ObjectId, *, reason: str
    ) -> list[str]:
        """End these sessions of `user_id`; the ids (as strings) that were asked for."""
        if not session_ids:
            return []
        now = utcnow()
        ids = [str(sid) for sid in session_ids]
        self.hot_sessions.forget(ids)  # this process refuses them at once
        # Redis first: the access tokens stop working before the revocation commits, never
        # after (a failed commit leaves them refused until they expire: fail closed).
        async with self._redis.pipeline(transaction=False) as pipe:
            for sid in ids:
                pipe.delete(f"auth:sess:{sid}")
                pipe.set(f"auth:revoked:{sid}", reason, ex=self.config.access_token_ttl + 60)
            await pipe.execute()

        async def work(tx: Tx) -> None:
            await AuthSession.get_pymongo_collection().update_many(
                {"_id": {"$in": list(session_ids)}, "revoked_at": None},
                {"$set": {"revoked_at": now, "revoked_reason": reason}},
                session=tx.session,
            )
            tx.publish(
                user_channel(user_id),
                "session.revoked",
                SessionRevokedEvent(session_ids=ids, reason=reason),
            )

        await run_in_transaction(self._mongo, work, publisher=self._bus)
        return ids

    async def revoke_all(
        self, user_id: ObjectId, *, except_session: str | None = None, reason: str
    ) -> list[str]:
        """End every session of the user (but `except_session`), audited once."""
        query: dict[str, Any] = {"user_id": user_id, "revoked_at": None}
        if except_session and ObjectId.is_valid(except_session):
            query["_id"] = {"$ne": ObjectId(except_session)}
        ids = [
            doc["_id"] async for doc in AuthSession.get_pymongo_collection().find(query, {"_id": 1})
        ]
        revoked = await self.revoke(ids, user_id, reason=reason)
        if revoked:
            await self.audit.record(
                "session.revoked_all",
                user_id=user_id,
                data={"reason": reason, "sessions": len(revoked)},
            )
        return revoked

    async def credentials_revoked(self, user_id: ObjectId, credential_ids: list[str]) -> None:
        """API tokens were revoked: their streams close (issue 15, F2), as a logged-out
        session's do: `session.revoked` on `user:{id}` names them, and Redis remembers."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for cid in credential_ids:
                    pipe.set(f"auth:revoked:{cid}", "revoked", ex=self.config.access_token_ttl + 60)
                await pipe.execute()
        except REDIS_ERRORS:
            log.warning("redis unavailable: token revocation not cached")
        await self._bus.publish(
            user_channel(user_id),
            "session.revoked",
            SessionRevokedEvent(session_ids=credential_ids, reason="token_revoked"),
        )
