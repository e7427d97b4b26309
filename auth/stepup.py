"""Step-up: changing how an account signs in needs a recent authentication."""

from __future__ import annotations

import time

from auth.scopes import require_full_session
from server.core.actor import Actor
from server.core.errors import Forbidden

STEP_UP_MAX_AGE = 5 * 60


def require_recent_auth(actor: Actor, max_age: int = STEP_UP_MAX_AGE) -> None:
    """403 `STEP_UP_REQUIRED` unless the actor authenticated within `max_age` seconds.

    The client then calls `POST /api/v1/auth/reauth` (password, plus a TOTP code when 2FA is
    on) or signs in with a passkey again, and retries with the fresh access token.
    """
    require_full_session(actor)
    if actor.auth_time is None or time.time() - actor.auth_time > max_age:
        raise Forbidden(
            "Confirm it is you: authenticate again to make this change.",
            code="STEP_UP_REQUIRED",
            details=[{"maxAgeSeconds": max_age}],
        )
