"""`GET /ws/notes/{noteId}?ticket=…`: the y-websocket endpoint of one note.

Same ticket (single use, `POST /api/v1/realtime/ticket`) and `Origin` allow-list as `/ws`,
a separate path rather than a sub-protocol of the JSON gateway: unmodified y-websocket
clients speak binary frames, one document per socket, and expect the room in the URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import msgspec
from bson import ObjectId
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from realtime.bus import live_channel
from realtime.collab.client import CollabClient
from realtime.collab.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_INTERNAL,
    CLOSE_MALFORMED,
    CLOSE_SESSION_REVOKED,
    CLOSE_TOO_BIG,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHORIZED,
    Malformed,
    parse,
)
from realtime.collab.room import Room
from realtime.collab.rooms import Rooms
from realtime.gateway import HUB_STATE_KEY, origin_allowed
from realtime.hub import RealtimeHub
from realtime.subscriber import LiveEvent, SubscribeTimeout
from server.core.channels import user_channel

log = logging.getLogger("realtime.collab")

COLLAB_STATE_KEY = "collab"
_GONE = 0  # the client left: nothing to send


class _RevokedData(msgspec.Struct, rename="camel"):
    session_ids: list[str] = []


class _Revoked(msgspec.Struct):
    data: _RevokedData


_revoked = msgspec.json.Decoder(_Revoked)


class _UserSink:
    """Closes the socket with 4002 when its session is revoked (the user's channel)."""

    def __init__(self, client: CollabClient) -> None:
        self.client = client

    def on_event(self, channel: str, event: LiveEvent) -> None:
        if event.type != "session.revoked":
            return
        try:
            ids = _revoked.decode(event.raw).data.session_ids
        except msgspec.DecodeError:
            return
        if self.client.actor.session_id in ids:
            self.client.close(CLOSE_SESSION_REVOKED, "session revoked")

    def on_presence(self, channel: str, text: str) -> None:
        return None

    def on_reset(self, channel: str) -> None:
        return None


@websocket("/ws/notes/{note_id:str}", name="collab_ws", include_in_schema=False)
async def collab_socket(socket: WebSocket[Any, Any, Any], note_id: str) -> None:
    hub: RealtimeHub = socket.app.state[HUB_STATE_KEY]
    rooms: Rooms = socket.app.state[COLLAB_STATE_KEY]
    cfg = hub.config
    if not origin_allowed(
        socket.headers.get("origin"), cfg.allowed_origins, cfg.allow_missing_origin
    ):
        await socket.close(code=4003, reason="origin not allowed")  # before accept: HTTP 403
        return
    ticket = await hub.tickets.redeem(socket.query_params.get("ticket"))
    await socket.accept()
    if ticket is None:
        await socket.close(CLOSE_UNAUTHORIZED, "invalid or expired ticket")
        return
    if ticket.session_id and not await hub.auth.session_is_live(ticket.session_id):
        await socket.close(CLOSE_SESSION_REVOKED, "session revoked")
        return
    actor = ticket.actor()
    grant = await rooms.gate.grant(actor, note_id) if ObjectId.is_valid(note_id) else None
    if grant is None:
        await socket.close(CLOSE_FORBIDDEN, "no access to this note")
        return
    client = CollabClient(
        actor, can_write=grant.can_write, max_queue_bytes=rooms.config.queue_max_bytes
    )
    user_sink = _UserSink(client)
    user_live = live_channel(user_channel(actor.user_id))
    try:
        await hub.subscriber.add(user_live, user_sink)
        room = await rooms.join(ObjectId(note_id), client, grant)
    except (PyMongoError, RedisError, OSError, SubscribeTimeout):
        log.warning("collab room unavailable", exc_info=True)
        hub.subscriber.remove(user_live, user_sink)
        await socket.close(CLOSE_TRY_AGAIN, "try again later")
        return
    loop = asyncio.get_running_loop()
    expiry = loop.call_later(
        max(0.0, ticket.token_expires_at - time.time()),
        client.close,
        CLOSE_UNAUTHORIZED,
        "token expired",
    )
    reader = asyncio.create_task(_read_loop(socket, client, room, rooms))
    try:
        await _write_loop(socket, client)
    finally:
        expiry.cancel()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        hub.subscriber.remove(user_live, user_sink)
        await rooms.leave(room, client)
    code = client.close_code
    if code is not None and code != _GONE:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(cfg.send_timeout):
                await socket.close(code, client.close_reason)


async def _write_loop(socket: WebSocket[Any, Any, Any], client: CollabClient) -> None:
    task = asyncio.current_task()
    client.writer_task = task
    try:
        async for data in client.outgoing():
            client.sending = True
            try:
                await socket.send({"type": "websocket.send", "bytes": data, "text": None})
            finally:
                client.sending = False
    except asyncio.CancelledError:
        if not client.closing or task is None:
            raise
        task.uncancel()
    except (WebSocketDisconnect, OSError, RuntimeError):
        client.close(_GONE)
    except Exception:
        log.exception("collab writer failed")
        client.close(CLOSE_INTERNAL, "internal error")
    finally:
        client.writer_task = None


async def _read_loop(
    socket: WebSocket[Any, Any, Any], client: CollabClient, room: Room, rooms: Rooms
) -> None:
    limit = rooms.config.max_message_bytes
    try:
        while not client.closing:
            message = await socket.receive()
            if message["type"] != "websocket.receive":
                client.close(_GONE)
                return
            data = message.get("bytes")
            if data is None:
                text = message.get("text") or ""
                if len(text) > limit:
                    client.close(CLOSE_TOO_BIG, "message too big")
                else:
                    client.close(CLOSE_MALFORMED, "send binary y-websocket messages")
                return
            if len(data) > limit:
                client.close(CLOSE_TOO_BIG, "message too big")
                return
            try:
                room.handle(client, parse(data))
            except Malformed as exc:
                client.close(CLOSE_MALFORMED, str(exc)[:100])
                return
    except WebSocketDisconnect:
        client.close(_GONE)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("collab reader failed")
        client.close(CLOSE_INTERNAL, "internal error")
