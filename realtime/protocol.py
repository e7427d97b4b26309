"""Every frame of the real-time protocol as a msgspec Struct, and the close-code table.

Frames are JSON text messages tagged by `type`. The same Structs decode what clients send,
encode what the server sends, and generate the AsyncAPI document (`realtime/asyncapi.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec

CHANNEL_PATTERN = r"^[a-z][a-z0-9_-]{0,30}:[A-Za-z0-9_-]{1,64}$"
ChannelName = Annotated[
    str,
    msgspec.Meta(
        pattern=CHANNEL_PATTERN,
        max_length=96,
        description="`user:{id}`, `family:{id}` or `workspace:{id}`",
    ),
]
Ref = Annotated[
    str,
    msgspec.Meta(max_length=64, description="Optional client correlation id, echoed in replies"),
]


class Frame(msgspec.Struct, tag_field="type", rename="camel", kw_only=True, omit_defaults=True):
    """Base of every frame; `type` names the frame."""


# ---------------------------------------------------------------- client -> server


class Since(msgspec.Struct, rename="camel", kw_only=True, forbid_unknown_fields=True):
    """The last position the client has seen on a channel."""

    epoch: str | None = None
    offset: Annotated[int, msgspec.Meta(ge=0)]


class ClientFrame(Frame, forbid_unknown_fields=True, kw_only=True):
    ref: Ref | None = None


class Subscribe(ClientFrame, tag="subscribe", kw_only=True):
    """Start receiving a channel's events; with `since`, first replay what was missed."""

    channel: ChannelName
    since: Since | None = None


class Unsubscribe(ClientFrame, tag="unsubscribe", kw_only=True):
    channel: ChannelName


class Ping(ClientFrame, tag="ping", kw_only=True):
    """Application-level liveness check; answered by `pong`."""


class PresenceHeartbeat(ClientFrame, tag="presence.heartbeat", kw_only=True):
    """Keeps this connection online in the presence of every subscribed family/workspace."""


class AuthRefresh(ClientFrame, tag="auth.refresh", kw_only=True):
    """A fresh access token of the same session; extends the connection past the old expiry."""

    access_token: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]


ClientFrames = Subscribe | Unsubscribe | Ping | PresenceHeartbeat | AuthRefresh
CLIENT_FRAMES: tuple[type[ClientFrame], ...] = (
    Subscribe,
    Unsubscribe,
    Ping,
    PresenceHeartbeat,
    AuthRefresh,
)

# ---------------------------------------------------------------- server -> client


class Event(msgspec.Struct, rename="camel", kw_only=True):
    """A domain event as stored on its channel (see ARCHITECTURE.md, "Events")."""

    channel: str
    type: str
    data: Any
    ts: float
    offset: int
    epoch: str


# ISO 8601 UTC on the wire; the schema says so (msgspec alone writes just `string`).
Instant = Annotated[datetime, msgspec.Meta(tz=True, extra_json_schema={"format": "date-time"})]


def expiry(unix_seconds: float) -> datetime:
    """A token's `exp` as the UTC datetime frames carry (ISO 8601 on the wire, as in REST)."""
    return datetime.fromtimestamp(int(unix_seconds), UTC)


class Ready(Frame, tag="ready", kw_only=True):
    """First frame after the handshake."""

    connection_id: str
    user_id: str
    # ISO 8601 like every REST time: send `auth.refresh` before it or the socket closes 4001
    expires_at: Instant
    heartbeat_interval: int  # seconds between `presence.heartbeat` frames
    max_frame_bytes: int


class Subscribed(Frame, tag="subscribed", kw_only=True):
    """The channel is live from (`epoch`, `offset`).

    `recovered: true` means every event after the client's `since` was (or is about to be)
    replayed. `false` means the client must refetch the channel's state; it is also sent
    unsolicited when the server detects lost history (Redis restart or flush, trimmed stream).
    """

    channel: str
    epoch: str | None
    offset: int
    recovered: bool
    ref: str | None = None


class Unsubscribed(Frame, tag="unsubscribed", kw_only=True):
    """The subscription ended: `client` (asked for), `forbidden` (membership lost)."""

    channel: str
    reason: str
    ref: str | None = None


class EventFrame(Frame, tag="event", kw_only=True):
    event: Event


class Pong(Frame, tag="pong", kw_only=True):
    ref: str | None = None


class PresenceMember(msgspec.Struct, rename="camel", kw_only=True):
    user_id: str
    username: str


class Presence(Frame, tag="presence", kw_only=True):
    """Who is online in a family/workspace channel; sent whenever that set changes."""

    channel: str
    online: list[PresenceMember]


class AuthRefreshed(Frame, tag="auth.refreshed", kw_only=True):
    expires_at: Instant
    ref: str | None = None


class Error(Frame, tag="error", kw_only=True):
    """A frame was refused; the connection stays open (codes in `ERROR_CODES`)."""

    code: str
    message: str
    channel: str | None = None
    ref: str | None = None


SERVER_FRAMES: tuple[type[Frame], ...] = (
    Ready,
    Subscribed,
    Unsubscribed,
    EventFrame,
    Pong,
    Presence,
    AuthRefreshed,
    Error,
)

ERROR_CODES: dict[str, str] = {
    "BAD_FRAME": "Not JSON, not a text frame, an unknown `type` or invalid fields.",
    "FORBIDDEN_CHANNEL": "Unknown channel kind, or the user may not read this channel.",
    "TOO_MANY_SUBSCRIPTIONS": "The per-connection subscription limit is reached.",
    "NOT_SUBSCRIBED": "`unsubscribe` for a channel this connection is not subscribed to.",
    "INVALID_TOKEN": "`auth.refresh` with a malformed or forged access token.",
    "TOKEN_EXPIRED": "`auth.refresh` with an access token that has expired: refresh it first.",
    "TOKEN_SESSION_MISMATCH": "`auth.refresh` with another user's or another session's token.",
    "SESSION_REVOKED": "`auth.refresh` after the session ended: log in again.",
    "UNAVAILABLE": "The event backbone is briefly unavailable; retry the frame.",
}


# ---------------------------------------------------------------- close codes


@dataclass(frozen=True, slots=True)
class CloseCode:
    code: int
    name: str
    meaning: str
    client_action: str


CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_UNAUTHORIZED = 4001
CLOSE_SESSION_REVOKED = 4002
CLOSE_SLOW_CONSUMER = 4008
CLOSE_RATE_LIMITED = 4029

CLOSE_CODES: tuple[CloseCode, ...] = (
    CloseCode(1000, "normal", "Closed on purpose.", "Nothing."),
    CloseCode(
        1001,
        "going_away",
        "The server is shutting down (1012 from the ASGI server means the same).",
        "Reconnect with a new ticket and resubscribe with `since`.",
    ),
    CloseCode(
        1009,
        "too_big",
        "A frame was larger than `maxFrameBytes`.",
        "Fix the client; reconnect.",
    ),
    CloseCode(1011, "internal", "Unexpected server error.", "Reconnect with backoff."),
    CloseCode(
        4001,
        "unauthorized",
        "Ticket missing, unknown, reused or expired; or the access token expired without "
        "`auth.refresh`.",
        "Refresh the access token, get a new ticket, reconnect with `since`.",
    ),
    CloseCode(
        4002,
        "session_revoked",
        "The session was logged out or revoked.",
        "Do not reconnect; send the user to log in.",
    ),
    CloseCode(
        4008,
        "slow_consumer",
        "The client did not read fast enough and its bounded queue overflowed.",
        "Reconnect and resubscribe with `since` (nothing is lost while history lasts).",
    ),
    CloseCode(
        4029,
        "rate_limited",
        "Too many frames per second from this connection.",
        "Back off a few seconds, then reconnect.",
    ),
)


# ---------------------------------------------------------------- encoding helpers

_encoder = msgspec.json.Encoder()
client_decoder = msgspec.json.Decoder(ClientFrames)


def encode_frame(frame: Frame) -> str:
    return _encoder.encode(frame).decode()


def event_frame_text(raw_event: str) -> str:
    """`{"type":"event","event":<stored event JSON>}` without re-encoding the event."""
    return '{"type":"event","event":' + raw_event + "}"


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final text frame (RFC 6455 5.2): what a server writes for `payload`
    without extensions, built once per event instead of once per socket."""
    size = len(payload)
    if size < 126:
        head = bytes((0x81, size))
    elif size < 1 << 16:
        head = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return head + payload
