"""The WebSocket gateway: `GET /ws?ticket=…`.

Per connection there is one coroutine, the handler, and it reads client frames. Frames to the
client are pushed (`realtime/push.py`): written at once from the subscriber's callback, by a
short-lived writer task only while a backlog exists. Everything else that can end a
connection - queue overflow, session revocation, token expiry, server shutdown - calls
`Connection.close(code)`, which stops the handler's read; the handler sends the close frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, cast
from urllib.parse import parse_qsl

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from redis.exceptions import RedisError

from auth.tokens import decode_access_token
from realtime.connection import Connection
from realtime.hub import RealtimeError, RealtimeHub
from realtime.protocol import (
    CLOSE_INTERNAL,
    CLOSE_RATE_LIMITED,
    CLOSE_SESSION_REVOKED,
    CLOSE_TOO_BIG,
    CLOSE_UNAUTHORIZED,
    AuthRefresh,
    AuthRefreshed,
    Error,
    Ping,
    Pong,
    PresenceHeartbeat,
    Ready,
    Subscribe,
    Unsubscribe,
    Unsubscribed,
    client_decoder,
    encode_frame,
    expiry,
)
from realtime.push import CLIENT_GONE, FRAME_SINK, ClientGone, FrameSink, SendText
from server.core.errors import DomainError
from server.core.request_context import raw_header

log = logging.getLogger("realtime.gateway")

HUB_STATE_KEY = "realtime"


def origin_allowed(origin: str | None, allowed: tuple[str, ...], allow_missing: bool) -> bool:
    if origin is None or origin == "":
        return allow_missing
    if "*" in allowed:
        return True
    origin = origin.rstrip("/").lower()
    return any(origin == a.rstrip("/").lower() for a in allowed)


def _ticket(socket: WebSocket[Any, Any, Any]) -> str | None:
    """The `ticket` query parameter, without `socket.query_params` (also cached per socket)."""
    query = socket.scope["query_string"].decode("latin-1")
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "ticket":
            return value
    return None


@websocket("/ws", name="realtime_ws", include_in_schema=False)
async def realtime_socket(socket: WebSocket[Any, Any, Any]) -> None:
    # Only what the open socket needs stays in this frame: thousands of them stay suspended
    # in `_read_loop`. The handshake's locals (the ticket grant, the origin) live and die in
    # `_open`.
    hub: RealtimeHub = socket.app.state[HUB_STATE_KEY]
    conn = await _open(socket, hub)
    if conn is None:
        return
    # The request headers (uvicorn's list of byte pairs in the scope, ~1.3 KiB) served the
    # handshake only; nothing reads them once the socket is open.
    socket.scope["headers"] = []
    await _read_loop(socket, conn, hub)
    if conn.writer is not None and conn.writer.task is not None:
        conn.writer.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await conn.writer.task
    await hub.detach(conn)
    code = conn.close_code
    if code is not None and code != CLIENT_GONE:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(hub.config.send_timeout):
                await socket.close(code, conn.close_reason)


async def _open(socket: WebSocket[Any, Any, Any], hub: RealtimeHub) -> Connection | None:
    """Check the origin, redeem the ticket, accept, attach: the live connection, or None
    once the socket was refused or closed."""
    cfg = hub.config
    origin = raw_header(socket.scope, b"origin")
    if not origin_allowed(origin, cfg.allowed_origins, cfg.allow_missing_origin):
        # A browser sees only an empty 403: the log line says which setting to change.
        log.warning(
            "websocket origin refused; add it to WS_ALLOWED_ORIGINS (and CORS_ORIGINS)",
            extra={"origin": (origin or "")[:200]},
        )
        await socket.close(code=4003, reason="origin not allowed")  # before accept: HTTP 403
        return None
    grant = await hub.tickets.redeem(_ticket(socket))
    await socket.accept()
    if grant is None:
        await socket.close(CLOSE_UNAUTHORIZED, "invalid or expired ticket")
        return None
    if grant.session_id and not await hub.auth.session_is_live(grant.session_id):
        await socket.close(CLOSE_SESSION_REVOKED, "session revoked")
        return None
    conn = Connection(hub, grant.actor(), expires_at=grant.token_expires_at, transport="ws")
    conn.use_push(_sender(socket), _frame_sink(socket))
    try:
        await hub.attach(conn)
    except RealtimeError:
        await hub.detach(conn)
        await socket.close(CLOSE_INTERNAL, "real-time delivery unavailable")
        return None
    conn.schedule_expiry(grant.token_expires_at, time.time(), CLOSE_UNAUTHORIZED)
    conn.push_frame(
        "ready",
        encode_frame(
            Ready(
                connection_id=conn.id,
                user_id=str(conn.actor.user_id),
                expires_at=expiry(grant.token_expires_at),
                heartbeat_interval=cfg.heartbeat_interval,
                max_frame_bytes=cfg.max_frame_bytes,
            )
        ),
    )
    return conn


def _frame_sink(socket: WebSocket[Any, Any, Any]) -> FrameSink | None:
    """The server's frame sink, if it offers one; taken out of the scope (no cycle through
    the server's protocol object and its scope)."""
    extensions = socket.scope.get("extensions") or {}
    return cast("FrameSink | None", extensions.pop(FRAME_SINK, None))


def _sender(socket: WebSocket[Any, Any, Any]) -> SendText:
    send = socket.send

    async def send_text(text: str) -> None:
        try:
            await send({"type": "websocket.send", "text": text, "bytes": None})
        except (WebSocketDisconnect, OSError, RuntimeError) as exc:
            raise ClientGone from exc

    return send_text


async def _read_loop(socket: WebSocket[Any, Any, Any], conn: Connection, hub: RealtimeHub) -> None:
    """Read and handle client frames until the connection closes.

    `Connection.close()` (from any callback) cancels this loop wherever it waits, as the
    separate reader task was cancelled before; the cancellation is absorbed here."""
    cfg = hub.config
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is None:
        return

    def stop_reading() -> None:
        if asyncio.current_task() is not task:  # the loop itself checks `closing`
            task.cancel()

    conn.on_close = stop_reading
    try:
        while not conn.closing:
            message = await socket.receive()
            if message["type"] != "websocket.receive":
                conn.close(CLIENT_GONE)
                return
            text = message.get("text")
            size = len(text) if text is not None else len(message.get("bytes") or b"")
            if size > cfg.max_frame_bytes:
                conn.close(CLOSE_TOO_BIG, "frame too big")
                return
            if not conn.allow_frame(loop.time()):
                conn.close(CLOSE_RATE_LIMITED, "too many frames")
                return
            if text is None:
                _error(conn, "BAD_FRAME", "Send JSON text frames.")
                continue
            await _handle(text, conn, hub)
    except WebSocketDisconnect:
        conn.close(CLIENT_GONE)
    except asyncio.CancelledError:
        if not conn.closing:
            raise  # the server is cancelling the handler itself
        task.uncancel()
    except Exception:
        log.exception("websocket reader failed")
        conn.close(CLOSE_INTERNAL, "internal error")
    finally:
        conn.on_close = None


def _error(
    conn: Connection, code: str, message: str, *, channel: str | None = None, ref: str | None = None
) -> None:
    frame = Error(code=code, message=message, channel=channel, ref=ref)
    conn.push_frame("error", encode_frame(frame))


async def _handle(text: str, conn: Connection, hub: RealtimeHub) -> None:
    try:
        frame = client_decoder.decode(text)
    except msgspec.ValidationError as exc:
        _error(conn, "BAD_FRAME", str(exc))
        return
    except msgspec.DecodeError:
        _error(conn, "BAD_FRAME", "The frame is not valid JSON.")
        return
    except RecursionError:  # nested past the decoder's depth cap (issue 15, F8)
        _error(conn, "BAD_FRAME", "The frame is nested too deeply.")
        return
    try:
        if isinstance(frame, Subscribe):
            try:
                await hub.subscribe(conn, frame.channel, frame.since, frame.ref)
            except RealtimeError as exc:
                _error(conn, exc.code, exc.message, channel=frame.channel, ref=frame.ref)
        elif isinstance(frame, Unsubscribe):
            if await hub.drop(conn, frame.channel):
                done = Unsubscribed(channel=frame.channel, reason="client", ref=frame.ref)
                conn.push_frame("unsubscribed", encode_frame(done))
            else:
                _error(
                    conn, "NOT_SUBSCRIBED", "Not subscribed.", channel=frame.channel, ref=frame.ref
                )
        elif isinstance(frame, Ping):
            conn.push_frame("pong", encode_frame(Pong(ref=frame.ref)))
        elif isinstance(frame, PresenceHeartbeat):
            await hub.heartbeat(conn)
        elif isinstance(frame, AuthRefresh):
            await _refresh(frame, conn, hub)
    except (RedisError, OSError, TimeoutError):
        log.warning("realtime frame failed on Redis", exc_info=True)
        _error(conn, "UNAVAILABLE", "Please retry.", ref=getattr(frame, "ref", None))


async def _refresh(frame: AuthRefresh, conn: Connection, hub: RealtimeHub) -> None:
    """Extend the connection with a fresh access token of the same session. Refusals name
    the reason: `INVALID_TOKEN`, `TOKEN_EXPIRED`, `TOKEN_SESSION_MISMATCH` (another user's or
    session's token), `SESSION_REVOKED` (the session has ended)."""
    config = hub.auth.config
    try:
        claims = decode_access_token(
            frame.access_token, secret=config.secret_key, issuer=config.jwt_issuer
        )
    except DomainError as exc:
        _error(conn, exc.code, exc.message, ref=frame.ref)
        return
    same = claims.user_id == str(conn.actor.user_id) and (
        claims.session_id == conn.actor.session_id
    )
    if not same:
        message = "That token is of another session; it cannot extend this connection."
        _error(conn, "TOKEN_SESSION_MISMATCH", message, ref=frame.ref)
        return
    if not await hub.auth.session_is_live(claims.session_id):
        _error(conn, "SESSION_REVOKED", "The session has ended. Log in again.", ref=frame.ref)
        return
    conn.schedule_expiry(claims.expires_at, time.time(), CLOSE_UNAUTHORIZED)
    reply = AuthRefreshed(expires_at=expiry(claims.expires_at), ref=frame.ref)
    conn.push_frame("auth.refreshed", encode_frame(reply))
