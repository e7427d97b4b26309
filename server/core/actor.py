"""Who acts: the same type for an HTTP request, a WebSocket frame, an agent tool or a voice turn.

Managers take an `Actor` as their first argument and decide from it alone what is allowed.
Agents act *as* their user (`with_channel("agent")`), never with more rights.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from bson import ObjectId

Channel = Literal["http", "ws", "agent", "voice", "system"]
AuthMethod = Literal["password", "refresh", "api_token", "passkey", "system"]

ROLE_ADMIN = "admin"
ROLE_SHOP_ADMIN = "shop_admin"


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: ObjectId
    username: str
    roles: frozenset[str] = frozenset()
    auth_method: AuthMethod = "password"
    channel: Channel = "http"
    session_id: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    # None means the full rights of the user; a set limits an API token to those scopes.
    scopes: frozenset[str] | None = None
    mfa: bool = False
    auth_time: float | None = field(default=None, compare=False)
    # An API token's credential id (`tok:<id>`), so streams opened with it end when it is
    # revoked (issue 15, F2); None for login sessions, which have `session_id`.
    credential_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return ROLE_ADMIN in self.roles

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def allows_scope(self, scope: str) -> bool:
        """A full session allows every scope; an API token only the ones it was given."""
        if self.scopes is None:
            return True
        family = scope.split(":", 1)[0]
        return scope in self.scopes or f"{family}:*" in self.scopes or "*" in self.scopes

    def with_channel(self, channel: Channel) -> Actor:
        return replace(self, channel=channel)

    @classmethod
    def system(cls) -> Actor:
        """The server itself (cron jobs, sweeps). Never handed to a client or an agent."""
        return cls(
            user_id=ObjectId("000000000000000000000000"),
            username="system",
            roles=frozenset({ROLE_ADMIN}),
            auth_method="system",
            channel="system",
        )
