"""`GET /api/v1/events/stream?channels=a,b`: the same events as the WebSocket, over SSE.

- Auth: `Authorization: Bearer <access token>`, or `?ticket=` (EventSource cannot set headers).
- `id:` lists the position of every requested channel, in the order of `channels`:
  `epoch:offset` for one channel, `epoch1:offset1,epoch2:offset2` for several. Resume with the
  `Last-Event-ID` header (EventSource sends it on its own) or `?lastEventId=`.
- Domain events are unnamed SSE messages (`onmessage`); `subscribed`, `unsubscribed`,
  `presence` and `close` are named events whose data is the same JSON as the WebSocket frame.
- Keep-alives are comments only (`: ping` every `SSE_KEEPALIVE_SECONDS`; the first frame is
  `: connected` + `retry:`), so `onmessage` never sees an empty message; `X-Accel-Buffering: no`.
- A ticket stays valid for reconnects of the same stream (`SSE_TICKET_REUSE_SECONDS`, see
  `realtime/tickets.py`), so `EventSource` resumes on its own, sending `Last-Event-ID`.
- With `SSE_MAX_STREAM_SECONDS` the server ends the response after that long (at the next
  keep-alive tick); the client reconnects and resumes where it was.
- When the client goes, Litestar cancels the generator and its `finally` drops every
  subscription at once (shielded from the cancellation).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncGenerator
from typing import Any

import anyio
import msgspec
from litestar import Request, get
from litestar.response import ServerSentEvent, ServerSentEventMessage

from auth.dependencies import bearer_token, client_context, get_auth_manager
from auth.scopes import require_scope
from auth.tokens import decode_access_token
from realtime.authorizers import SUBSCRIBE_SCOPE
from realtime.connection import Connection
from realtime.frames import KEEPALIVE
from realtime.gateway import HUB_STATE_KEY
from realtime.hub import RealtimeError, RealtimeHub
from realtime.protocol import CHANNEL_PATTERN, CLOSE_UNAUTHORIZED, Since
from realtime.subscriber import LiveEvent
from realtime.tickets import TicketGrant
from server.core.errors import BadRequest, Forbidden, ServiceUnavailable, Unauthorized
from server.core.text import ascii_digits

_CHANNEL_RE = re.compile(CHANNEL_PATTERN)


def parse_positions(value: str | None, count: int) -> list[Since | None]:
    """`epoch:offset[,epoch:offset...]` -> one `Since` per channel (None where unusable)."""
    if not value:
        return [None] * count
    parts = value.split(",")
    if len(parts) != count:
        return [None] * count
    out: list[Since | None] = []
    for part in parts:
        epoch, sep, offset = part.rpartition(":")
        if not sep or not ascii_digits(offset) or len(part) > 80:
            out.append(None)
            continue
        out.append(Since(epoch=epoch or None, offset=int(offset)))
    return out


def format_positions(channels: list[str], positions: dict[str, tuple[str | None, int]]) -> str:
    return ",".join(
        f"{positions.get(ch, (None, 0))[0] or ''}:{positions.get(ch, (None, 0))[1]}"
        for ch in channels
    )


class _StreamTicket(msgspec.Struct):
    """The ticket an SSE connection came with, to restart its reuse window when it ends."""

    ticket: str
    stream: str
    grant: TicketGrant


async def _authenticate(
    request: Request[Any, Any, Any], hub: RealtimeHub, names: list[str]
) -> tuple[Any, float, _StreamTicket | None]:
    manager = get_auth_manager(request.app.state)
    if request.headers.get("authorization"):
        token = bearer_token(request)
        actor = await manager.authenticate(token, client_context(request))
        require_scope(actor, SUBSCRIBE_SCOPE)
        try:
            claims = decode_access_token(
                token, secret=manager.config.secret_key, issuer=manager.config.jwt_issuer
            )
            expires_at = claims.expires_at
        except Unauthorized:
            expires_at = time.time() + manager.config.access_token_ttl
        return actor, expires_at, None
    ticket = request.query_params.get("ticket") or ""
    stream = ",".join(sorted(names))
    grant = await hub.tickets.redeem_for_stream(ticket, stream)
    if grant is None:
        raise Unauthorized("Authentication is required.", code="UNAUTHORIZED")
    if grant.session_id and not await manager.session_is_live(grant.session_id):
        raise Unauthorized("The session has ended. Log in again.", code="SESSION_REVOKED")
    return grant.actor(), grant.token_expires_at, _StreamTicket(ticket, stream, grant)


@get(
    "/api/v1/events/stream",
    name="realtime_sse",
    tags=["realtime"],
    summary="Server-sent events for one or more channels",
    description=__doc__,
)
async def event_stream(request: Request[Any, Any, Any], channels: str) -> ServerSentEvent:
    hub: RealtimeHub = request.app.state[HUB_STATE_KEY]
    names = [c.strip() for c in channels.split(",") if c.strip()]
    names = list(dict.fromkeys(names))
    if not names or len(names) > hub.config.max_subscriptions:
        raise BadRequest(f"Give 1 to {hub.config.max_subscriptions} channels.", code="BAD_CHANNELS")
    for name in names:
        if not _CHANNEL_RE.match(name):
            raise BadRequest(f"Not a channel: {name[:100]}", code="BAD_CHANNELS")
    actor, expires_at, held = await _authenticate(request, hub, names)
    last_id = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
    positions = parse_positions(last_id, len(names))

    conn = Connection(hub, actor, expires_at=expires_at, transport="sse")
    try:
        await hub.attach(conn)
        for name, since in zip(names, positions, strict=True):
            await hub.subscribe(conn, name, since, None)
    except RealtimeError as exc:
        await hub.detach(conn)
        if exc.code == "FORBIDDEN_CHANNEL":
            raise Forbidden(exc.message, code="FORBIDDEN_CHANNEL") from exc
        if exc.code == "UNAVAILABLE":
            raise ServiceUnavailable(exc.message, code="UNAVAILABLE") from exc
        raise BadRequest(exc.message, code=exc.code) from exc
    except BaseException:
        await hub.detach(conn)
        raise
    conn.schedule_expiry(expires_at, time.time(), CLOSE_UNAUTHORIZED)
    return ServerSentEvent(
        _events(hub, conn, names, held),
        headers={"X-Accel-Buffering": "no", "Cache-Control": "no-cache"},
    )


class _Closed(msgspec.Struct):
    code: int
    reason: str


async def _events(
    hub: RealtimeHub, conn: Connection, names: list[str], held: _StreamTicket | None
) -> AsyncGenerator[ServerSentEventMessage, None]:
    sent: dict[str, tuple[str | None, int]] = {}
    beat_every = hub.config.heartbeat_interval
    next_beat = time.monotonic() + beat_every
    max_stream = hub.config.sse_max_stream
    keepalive = hub.config.sse_keepalive
    if max_stream > 0:
        keepalive = min(keepalive, max_stream)
    cut_at = time.monotonic() + max_stream if max_stream > 0 else None
    try:
        # `data=None`: a comment and a retry only, never an (empty) message.
        yield ServerSentEventMessage(data=None, retry=2000, comment="connected")
        async for item in conn.outgoing(keepalive=keepalive):
            now = time.monotonic()
            if now >= next_beat:
                # SSE has no upstream: the stream itself keeps its presence alive.
                next_beat = now + beat_every
                await hub.heartbeat(conn)
            if item is KEEPALIVE:
                yield ServerSentEventMessage(data=None, comment="ping")
            elif isinstance(item, LiveEvent):
                sent[item.channel] = (item.epoch, item.offset)
                yield ServerSentEventMessage(data=item.raw, id=format_positions(names, sent))
            elif item.kind == "subscribed" and item.channel is not None:
                sent[item.channel] = (item.epoch, item.offset or 0)
                yield ServerSentEventMessage(
                    event=item.kind, data=item.text, id=format_positions(names, sent)
                )
            else:
                yield ServerSentEventMessage(event=item.kind, data=item.text)
            if cut_at is not None and time.monotonic() >= cut_at:
                return  # the client reconnects (same ticket) and resumes from Last-Event-ID
        if conn.close_code:
            closed = _Closed(code=conn.close_code, reason=conn.close_reason)
            yield ServerSentEventMessage(event="close", data=msgspec.json.encode(closed).decode())
    finally:
        with anyio.CancelScope(shield=True):
            await hub.detach(conn)
            if held is not None:
                # The reuse window starts again now, so the reconnect finds the ticket.
                with contextlib.suppress(Exception):
                    await hub.tickets.hold_for_stream(held.ticket, held.stream, held.grant)
