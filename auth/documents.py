"""Users and their login sessions."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from server.core.clock import utcnow


class User(Document):
    username: str
    email: str
    password_hash: str
    roles: list[str] = Field(default_factory=list)
    email_verified: bool = False
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    password_changed_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "users"
        indexes = [
            IndexModel([("username", ASCENDING)], unique=True, name="username_unique"),
            IndexModel([("email", ASCENDING)], unique=True, name="email_unique"),
        ]


class AuthSession(Document):
    """One login and the refresh tokens rotated from it (a "session family").

    The refresh token is `<session id>.<secret>`; only SHA-256 hashes are stored. A secret
    that was already rotated away, presented again, revokes the whole session.
    """

    user_id: PydanticObjectId
    refresh_hash: str
    previous_hashes: list[str] = Field(default_factory=list)
    generation: int = 0
    auth_method: str = "password"
    mfa: bool = False
    ip: str | None = None
    user_agent: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime = Field(default_factory=utcnow)
    auth_time: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: str | None = None

    class Settings:
        name = "auth_sessions"
        indexes = [
            IndexModel([("user_id", ASCENDING), ("revoked_at", ASCENDING)], name="user_active"),
            IndexModel([("expires_at", ASCENDING)], name="expires_at"),
            IndexModel([("revoked_at", ASCENDING)], name="revoked_at"),
        ]

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > utcnow()
