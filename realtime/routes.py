"""HTTP routes of real-time delivery: tickets, presence, the AsyncAPI document."""

from __future__ import annotations

import time
from typing import Any

from litestar import Controller, Request, get, post
from litestar.status_codes import HTTP_201_CREATED

from auth.dependencies import bearer_token, get_auth_manager
from auth.tokens import decode_access_token
from realtime.gateway import HUB_STATE_KEY
from realtime.hub import RealtimeHub
from realtime.protocol import Presence
from server.core.actor import Actor
from server.core.errors import Forbidden, Unauthorized
from server.core.wire import Output

ASYNCAPI_STATE_KEY = "asyncapi"


class TicketResponse(Output):
    ticket: str
    expires_in: int


class RealtimeController(Controller):
    path = "/api/v1"
    tags = ["realtime"]

    @post(
        "/realtime/ticket",
        status_code=HTTP_201_CREATED,
        summary="A single-use, 30-second ticket for `GET /ws?ticket=…`",
    )
    async def ticket(self, request: Request[Any, Any, Any], actor: Actor) -> TicketResponse:
        hub: RealtimeHub = request.app.state[HUB_STATE_KEY]
        manager = get_auth_manager(request.app.state)
        try:
            claims = decode_access_token(
                bearer_token(request),
                secret=manager.config.secret_key,
                issuer=manager.config.jwt_issuer,
            )
            expires_at = claims.expires_at
        except Unauthorized:
            # Not a session JWT (e.g. an API token): the connection lives one access-token TTL.
            expires_at = time.time() + manager.config.access_token_ttl
        ticket = await hub.tickets.issue(actor, token_expires_at=expires_at)
        return TicketResponse(ticket=ticket, expires_in=hub.tickets.ttl)

    @get("/presence/{channel:str}", summary="Who is online in a family/workspace channel")
    async def presence(
        self, request: Request[Any, Any, Any], channel: str, actor: Actor
    ) -> Presence:
        hub: RealtimeHub = request.app.state[HUB_STATE_KEY]
        if not hub.authorizers.has_presence(channel) or not await hub.authorizers.authorize(
            actor, channel
        ):
            raise Forbidden("You may not see this channel.", code="FORBIDDEN_CHANNEL")
        return Presence(channel=channel, online=await hub.presence.online(channel))


@get("/schema/asyncapi.json", include_in_schema=False, name="asyncapi")
async def asyncapi_document(request: Request[Any, Any, Any]) -> dict[str, Any]:
    document: dict[str, Any] = request.app.state[ASYNCAPI_STATE_KEY]
    return document
