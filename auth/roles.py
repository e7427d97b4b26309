"""The stored roles of a user, re-read for every token that claims any (issue 15, F6).

Roles are never taken from the token alone, so a forged or stale claim grants nothing and
a demotion bites within `ROLE_CACHE_SECONDS`, not at the access token's expiry."""

from __future__ import annotations

import time

from bson import ObjectId

from auth.documents import User

ROLE_CACHE_SECONDS = 5.0
_MAX_ENTRIES = 10_000
# Process-wide: every api worker re-reads a user's roles at most once per window.
_ROLE_CACHE: dict[str, tuple[float, frozenset[str]]] = {}


async def current_roles(user_id: str) -> frozenset[str]:
    """The user's roles as stored (none for an inactive or unknown user), cached briefly."""
    now = time.monotonic()
    cached = _ROLE_CACHE.get(user_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    raw = (
        await User.get_pymongo_collection().find_one(
            {"_id": ObjectId(user_id)}, {"roles": 1, "is_active": 1}
        )
        if ObjectId.is_valid(user_id)
        else None
    )
    active = raw is not None and raw.get("is_active", True)
    roles = frozenset(raw.get("roles") or ()) if raw and active else frozenset()
    if len(_ROLE_CACHE) > _MAX_ENTRIES:
        _ROLE_CACHE.clear()
    _ROLE_CACHE[user_id] = (now + ROLE_CACHE_SECONDS, roles)
    return roles
