"""Background jobs (SAQ). Every job reaches the domain through `ctx["services"]`'s managers."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("server.jobs")


async def cleanup_expired_sessions(ctx: dict[str, Any]) -> int:
    """Delete login sessions whose refresh token expired (and long-revoked ones)."""
    deleted = await ctx["services"].auth.cleanup_sessions()
    log.info("expired sessions cleaned", extra={"deleted": deleted})
    return deleted
