"""Create, list, revoke and authenticate permanent API tokens.

The token is `sbp_` + 256 random bits, shown once; the database keeps its SHA-256, so a
lookup by hash is exact and a database leak reveals no usable token. Every request checks
the stored record, so a revoked token stops working on the very next request.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, timedelta

from beanie import PydanticObjectId, SortDirection
from bson import ObjectId

from auth.api_tokens.documents import ApiToken
from auth.api_tokens.schemas import ApiTokenCreate, ApiTokenCreated, ApiTokenView
from auth.audit.manager import AuditLog
from auth.documents import User
from auth.scopes import KNOWN_SCOPES, require_full_session
from auth.stepup import require_recent_auth
from auth.tokens import sha256_hex
from server.core.actor import Actor
from server.core.clock import utcnow
from server.core.errors import Conflict, NotFound, Unauthorized, Unprocessable
from server.core.ids import stored_id
from server.core.wire import validate

TOKEN_PREFIX = "sbp_"
MAX_TOKENS_PER_USER = 20


def _view(token: ApiToken) -> ApiTokenView:
    return ApiTokenView(
        id=str(token.id),
        name=token.name,
        prefix=token.prefix,
        scopes=token.scopes,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
    )


def _active_query(user_id: ObjectId) -> dict[str, object]:
    return {
        "user_id": user_id,
        "revoked_at": None,
        "$or": [{"expires_at": None}, {"expires_at": {"$gt": utcnow()}}],
    }


class ApiTokenManager:
    def __init__(self, audit: AuditLog, *, touch_interval_seconds: int = 60) -> None:
        self._audit = audit
        self._touch_interval = touch_interval_seconds
        # Set by the AuthManager: ends the streams of revoked tokens (issue 15, F2).
        self.on_revoked: Callable[[ObjectId, list[str]], Awaitable[None]] | None = None

    async def _revoked(self, user_id: ObjectId, token_ids: list[str]) -> None:
        if self.on_revoked is not None and token_ids:
            await self.on_revoked(user_id, [f"tok:{tid}" for tid in token_ids])

    async def create(self, actor: Actor, cmd: ApiTokenCreate) -> ApiTokenCreated:
        """A new token (its secret shown once). Needs a full session authenticated within the
        step-up window (403 `STEP_UP_REQUIRED`), whatever the caller: route, agent or CLI."""
        cmd = validate(cmd)
        require_recent_auth(actor)  # a full session (never an API token), recently signed in
        unknown = sorted(set(cmd.scopes) - KNOWN_SCOPES)
        if unknown:
            raise Unprocessable(
                "Unknown scopes.",
                code="UNKNOWN_SCOPE",
                details=[{"field": "scopes", "message": f"unknown: {s}"} for s in unknown],
            )
        expires_at = cmd.expires_at
        if expires_at is not None:
            if expires_at.tzinfo is None:
                expires_at = expires_at.replace(tzinfo=UTC)
            if expires_at <= utcnow() + timedelta(minutes=1):
                raise Unprocessable(
                    "The expiry must be in the future.",
                    details=[{"field": "expiresAt", "message": "must be in the future"}],
                )
            expires_at = expires_at.replace(microsecond=expires_at.microsecond // 1000 * 1000)
        collection = ApiToken.get_pymongo_collection()
        if await collection.count_documents(_active_query(actor.user_id)) >= MAX_TOKENS_PER_USER:
            raise Conflict(
                f"At most {MAX_TOKENS_PER_USER} API tokens per account; revoke one first.",
                code="TOKEN_LIMIT_REACHED",
            )
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(
            user_id=actor.user_id,
            name=cmd.name.strip() or "token",
            token_hash=sha256_hex(raw),
            prefix=raw[:10],
            scopes=sorted(set(cmd.scopes)),
            expires_at=expires_at,
        )
        await token.insert()
        # Two concurrent creates may both pass the count: the later one backs out.
        if await collection.count_documents(_active_query(actor.user_id)) > MAX_TOKENS_PER_USER:
            await collection.delete_one({"_id": token.id})
            raise Conflict(
                f"At most {MAX_TOKENS_PER_USER} API tokens per account; revoke one first.",
                code="TOKEN_LIMIT_REACHED",
            )
        await self._audit.record(
            "token.created",
            actor=actor,
            data={"tokenId": str(token.id), "name": token.name, "scopes": token.scopes},
        )
        view = _view(token)
        return ApiTokenCreated(**{f: getattr(view, f) for f in view.__struct_fields__}, token=raw)

    async def list(self, actor: Actor) -> list[ApiTokenView]:
        require_full_session(actor)  # API tokens never reach account security (agents too)
        docs = (
            await ApiToken.find(_active_query(actor.user_id))
            .sort([("created_at", SortDirection.DESCENDING)])
            .to_list()
        )
        return [_view(d) for d in docs]

    async def revoke(self, actor: Actor, token_id: str) -> None:
        require_full_session(actor)  # API tokens never reach account security (agents too)
        if not ObjectId.is_valid(token_id):
            raise NotFound("No such API token.", code="TOKEN_NOT_FOUND")
        result = await ApiToken.get_pymongo_collection().update_one(
            {"_id": ObjectId(token_id), "user_id": actor.user_id, "revoked_at": None},
            {"$set": {"revoked_at": utcnow()}},
        )
        if result.modified_count != 1:
            raise NotFound("No such API token.", code="TOKEN_NOT_FOUND")
        await self._revoked(actor.user_id, [token_id])
        await self._audit.record("token.revoked", actor=actor, data={"tokenId": token_id})

    async def revoke_all(self, user_id: ObjectId) -> int:
        live = [
            str(d["_id"])
            async for d in ApiToken.get_pymongo_collection().find(
                {"user_id": user_id, "revoked_at": None}, {"_id": 1}
            )
        ]
        result = await ApiToken.get_pymongo_collection().update_many(
            {"user_id": user_id, "revoked_at": None}, {"$set": {"revoked_at": utcnow()}}
        )
        await self._revoked(user_id, live)
        return int(result.modified_count)

    async def is_live(self, token_id: str) -> bool:
        """False once the token is revoked, expired or gone (for streams opened with it)."""
        if not ObjectId.is_valid(token_id):
            return False
        raw = await ApiToken.get_pymongo_collection().find_one(
            {"_id": ObjectId(token_id)}, {"revoked_at": 1, "expires_at": 1}
        )
        if raw is None or raw.get("revoked_at") is not None:
            return False
        expires = raw.get("expires_at")
        if expires is not None and expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        return expires is None or expires > utcnow()

    async def authenticate(self, raw: str, *, ip: str | None, user_agent: str | None) -> Actor:
        """The `Actor` for an `sbp_` bearer token. 401 with one code per reason:
        `INVALID_TOKEN` (unknown or malformed), `TOKEN_REVOKED` (revoked, or its account is
        gone), `TOKEN_EXPIRED` (past its `expiresAt`)."""
        if not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
            raise Unauthorized("The API token is not valid.", code="INVALID_TOKEN")
        token = await ApiToken.find_one(ApiToken.token_hash == sha256_hex(raw))
        now = utcnow()
        if token is None:
            raise Unauthorized("The API token is not valid.", code="INVALID_TOKEN")
        revoked = Unauthorized("The API token was revoked.", code="TOKEN_REVOKED")
        if token.revoked_at is not None:
            raise revoked
        if token.expires_at is not None and token.expires_at <= now:
            raise Unauthorized("The API token has expired.", code="TOKEN_EXPIRED")
        user = await User.get(PydanticObjectId(token.user_id))
        if user is None or not user.is_active:
            raise revoked
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= (
            self._touch_interval
        ):
            await ApiToken.get_pymongo_collection().update_one(
                {"_id": token.id}, {"$set": {"last_used_at": now}}
            )
        return Actor(
            user_id=stored_id(user.id),
            username=user.username,
            roles=frozenset(user.roles),
            auth_method="api_token",
            channel="http",
            session_id=None,
            client_ip=ip,
            user_agent=user_agent,
            scopes=frozenset(token.scopes),
            mfa=False,
            auth_time=None,
            credential_id=f"tok:{token.id}",
        )
