"""API-token scopes and the checks managers use.

A full login session (`actor.scopes is None`) allows everything its user may do. A permanent
API token carries only the scopes it was created with; `family:*` grants the whole family.
Managers of other contexts call `require_scope(actor, "wallet:transfer")` at the top of every
user-facing method (reads need `<area>:read`; anything that moves money needs
`wallet:transfer` or `shop:purchase`). The full list is in docs/auth.md ("API tokens") and
docs/security.md.
"""

from __future__ import annotations

from server.core.actor import Actor
from server.core.errors import Forbidden

# The scopes a token may be given; documented in docs/auth.md ("API tokens").
KNOWN_SCOPES: frozenset[str] = frozenset(
    {
        "*",
        "profile:read",
        "wallet:*",
        "wallet:read",
        "wallet:transfer",
        "wallet:admin",
        "families:*",
        "families:read",
        "families:write",
        "workspaces:*",
        "workspaces:read",
        "workspaces:write",
        "shop:*",
        "shop:read",
        "shop:purchase",
        "shop:admin",
        "notifications:*",
        "notifications:read",
        "notifications:write",
        "notes:*",
        "notes:read",
        "notes:write",
        "agents:*",
        "agents:chat",
        "realtime:*",
        "realtime:subscribe",
    }
)


def require_scope(actor: Actor, scope: str) -> None:
    """403 `INSUFFICIENT_SCOPE` unless the actor (a session, or a token with `scope`) may."""
    if not actor.allows_scope(scope):
        raise Forbidden(
            f"This API token lacks the '{scope}' scope.",
            code="INSUFFICIENT_SCOPE",
            details=[{"scope": scope}],
        )


def require_full_session(actor: Actor) -> None:
    """Account security (tokens, 2FA, passkeys, sessions, audit) needs a real login session."""
    if actor.auth_method == "api_token" or actor.scopes is not None:
        raise Forbidden(
            "API tokens cannot manage account security; log in instead.",
            code="SESSION_REQUIRED",
        )
