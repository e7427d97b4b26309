"""The y-websocket wire protocol (lib0 encoding), parsed strictly.

Every binary frame is one message: `varuint type` then its payload.

- `0` sync: `varuint subtype` (`0` step 1 + `varbytes stateVector`, `1` step 2 + `varbytes
  update`, `2` update + `varbytes update`)
- `1` awareness: `varbytes` of `varuint n` times (`varuint clientID`, `varuint clock`,
  `varstring stateJSON`)
- `2` auth: `varuint 0` (permission denied) + `varstring reason` (server → client only)
- `3` query awareness (client → server, no payload)

A frame that does not parse exactly (unknown type, a length past the end, trailing bytes)
is malformed: the socket closes with `CLOSE_MALFORMED` and nothing of it reaches the
document. Updates are decoded by Yrs (`pycrdt.get_state`) before they are stored, so a
frame that parses but carries a broken update is refused the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

MSG_SYNC = 0
MSG_AWARENESS = 1
MSG_AUTH = 2
MSG_QUERY_AWARENESS = 3

SYNC_STEP1 = 0
SYNC_STEP2 = 1
SYNC_UPDATE = 2

AUTH_PERMISSION_DENIED = 0

EMPTY_UPDATE = b"\x00\x00"
_MAX_VARUINT = 2**53  # lib0 numbers are JavaScript-safe integers

# Close codes of `GET /ws/notes/{noteId}` (docs/collab.md).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_TRY_AGAIN = 1013  # MongoDB or Redis unavailable: nothing of the frame was kept
CLOSE_UNAUTHORIZED = 4001
CLOSE_SESSION_REVOKED = 4002
CLOSE_FORBIDDEN = 4003
CLOSE_SLOW_CONSUMER = 4008
CLOSE_MALFORMED = 4400

CLOSE_CODES: dict[int, str] = {
    CLOSE_NORMAL: "normal",
    CLOSE_GOING_AWAY: "server shutting down: reconnect with a new ticket",
    CLOSE_TOO_BIG: "message larger than COLLAB_MAX_MESSAGE_BYTES",
    CLOSE_INTERNAL: "internal error: reconnect with backoff",
    CLOSE_TRY_AGAIN: "storage unavailable, the last update was not kept: reconnect with backoff",
    CLOSE_UNAUTHORIZED: "ticket missing, used or expired, or access token expired",
    CLOSE_SESSION_REVOKED: "session revoked: log in again",
    CLOSE_FORBIDDEN: "no access to this note (never had it, lost it, or the note was deleted)",
    CLOSE_SLOW_CONSUMER: "the client did not read fast enough: reconnect",
    CLOSE_MALFORMED: "malformed binary message: the document was not changed",
}


class Malformed(ValueError):
    """A frame that is not a well-formed y-websocket message."""


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def varuint(self) -> int:
        value = 0
        shift = 0
        data = self.data
        while True:
            if self.pos >= len(data):
                raise Malformed("truncated number")
            byte = data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift > 56:
                raise Malformed("number too long")
        if value > _MAX_VARUINT:
            raise Malformed("number too large")
        return value

    def varbytes(self) -> bytes:
        size = self.varuint()
        end = self.pos + size
        if end > len(self.data):
            raise Malformed("length past the end of the message")
        out = self.data[self.pos : end]
        self.pos = end
        return out

    def varstring(self) -> str:
        try:
            return self.varbytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Malformed("string is not UTF-8") from exc

    def end(self) -> None:
        if self.pos != len(self.data):
            raise Malformed("trailing bytes after the message")


def write_varuint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def write_varbytes(data: bytes) -> bytes:
    return write_varuint(len(data)) + data


@dataclass(frozen=True, slots=True)
class SyncStep1:
    state_vector: bytes


@dataclass(frozen=True, slots=True)
class SyncUpdate:
    """Sync step 2 or an update: both carry a Yjs update for the document."""

    update: bytes
    step2: bool


@dataclass(frozen=True, slots=True)
class AwarenessEntry:
    client_id: int
    clock: int
    state: str  # JSON text; "null" removes the client


@dataclass(frozen=True, slots=True)
class AwarenessUpdate:
    entries: tuple[AwarenessEntry, ...]


@dataclass(frozen=True, slots=True)
class QueryAwareness:
    pass


Message = SyncStep1 | SyncUpdate | AwarenessUpdate | QueryAwareness


def parse_awareness(payload: bytes) -> tuple[AwarenessEntry, ...]:
    r = _Reader(payload)
    count = r.varuint()
    if count > 10_000:
        raise Malformed("too many awareness entries")
    entries = [AwarenessEntry(r.varuint(), r.varuint(), r.varstring()) for _ in range(count)]
    r.end()
    return tuple(entries)


def read_varbytes(data: bytes) -> bytes:
    """The content of a buffer that is exactly one `varbytes`."""
    r = _Reader(data)
    out = r.varbytes()
    r.end()
    return out


def parse(frame: bytes) -> Message:
    """One client message; raises `Malformed` for anything else."""
    r = _Reader(frame)
    kind = r.varuint()
    msg: Message
    if kind == MSG_SYNC:
        sub = r.varuint()
        if sub == SYNC_STEP1:
            msg = SyncStep1(r.varbytes())
        elif sub in (SYNC_STEP2, SYNC_UPDATE):
            msg = SyncUpdate(r.varbytes(), sub == SYNC_STEP2)
        else:
            raise Malformed(f"unknown sync message {sub}")
    elif kind == MSG_AWARENESS:
        msg = AwarenessUpdate(parse_awareness(r.varbytes()))
    elif kind == MSG_QUERY_AWARENESS:
        msg = QueryAwareness()
    else:
        raise Malformed(f"unknown message type {kind}")
    r.end()
    return msg


def sync_step1(state_vector: bytes) -> bytes:
    return bytes((MSG_SYNC, SYNC_STEP1)) + write_varbytes(state_vector)


def sync_step2(update: bytes) -> bytes:
    return bytes((MSG_SYNC, SYNC_STEP2)) + write_varbytes(update)


def sync_update(update: bytes) -> bytes:
    return bytes((MSG_SYNC, SYNC_UPDATE)) + write_varbytes(update)


def awareness_message(entries: list[AwarenessEntry] | tuple[AwarenessEntry, ...]) -> bytes:
    body = bytearray(write_varuint(len(entries)))
    for e in entries:
        body += write_varuint(e.client_id)
        body += write_varuint(e.clock)
        body += write_varbytes(e.state.encode("utf-8"))
    return bytes((MSG_AWARENESS,)) + write_varbytes(bytes(body))


def permission_denied(reason: str) -> bytes:
    """The auth message y-websocket clients hand to their `permission-denied` handler."""
    return bytes((MSG_AUTH, AUTH_PERMISSION_DENIED)) + write_varbytes(reason.encode("utf-8"))
