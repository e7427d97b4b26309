"""`GET /api/v1/auth/audit`: the caller's own security events."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter

from auth.audit.manager import AuditLog
from auth.audit.schemas import AuditPage
from auth.limits import auth_rate_limit
from auth.scopes import require_full_session
from server.core.actor import Actor


class AuditController(Controller):
    path = "/api/v1/auth/audit"
    tags = ["auth"]
    guards = [auth_rate_limit]

    @get("/", summary="My security events, newest first")
    async def list_events(
        self,
        actor: Actor,
        audit: AuditLog,
        cursor: Annotated[str | None, Parameter(max_length=20)] = None,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 50,
    ) -> AuditPage:
        require_full_session(actor)
        return await audit.page(actor, cursor, limit)
