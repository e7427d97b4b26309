"""One supervised Redis pub/sub subscriber per process, fanning messages out to local sinks.

Why not redis-py's PubSub or Litestar channels: we need to know exactly when a SUBSCRIBE is
active on the server (so a client's replay can start from that point), many concurrent first
subscriptions must never orphan one another, and a lost connection must be noticed (health
PINGs), re-established with backoff, and reported to every affected channel so clients are
resynchronised from the stream instead of silently missing events.

The subscriber owns one TCP connection and one reader task (`run`, started and stopped by the
api lifespan). Commands are written to the socket synchronously; replies are read in order.
For every channel we count SUBSCRIBE commands in flight, so the n-th `subscribe` reply
confirms the n-th command even when subscribes and unsubscribes of one channel interleave.

Sinks get synchronous callbacks on the reader task (keep them cheap, never block):
`on_event(channel, LiveEvent)`, `on_presence(channel, text)` and, after a reconnect,
`on_reset(channel)`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Iterable
from typing import Any, Protocol

import hiredis
import msgspec
from redis.asyncio.connection import parse_url

from realtime.bus import LIVE_PREFIX
from realtime.protocol import event_frame_text, text_frame

log = logging.getLogger("realtime.subscriber")

PRESENCE_PREFIX = "rt:presence:"
_SUBSCRIBE_BATCH = 500


class LiveEvent:
    """An event as received from pub/sub, decoded once per process and shared by every sink."""

    __slots__ = ("_wire", "channel", "epoch", "frame", "offset", "raw", "type")

    def __init__(self, channel: str, raw: str, offset: int, epoch: str, type_: str) -> None:
        self.channel = channel
        self.raw = raw
        self.offset = offset
        self.epoch = epoch
        self.type = type_
        self.frame = event_frame_text(raw)
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        """The frame as a WebSocket text frame's bytes, built by the first socket to need
        it and written as is to every other (what `websockets.broadcast` does)."""
        if self._wire is None:
            self._wire = text_frame(self.frame.encode())
        return self._wire


class _Header(msgspec.Struct):
    offset: int
    epoch: str
    type: str


_header_decoder = msgspec.json.Decoder(_Header)


def decode_event(channel: str, raw: bytes | str) -> LiveEvent:
    text = raw if isinstance(raw, str) else raw.decode()
    head = _header_decoder.decode(text)
    return LiveEvent(channel, text, head.offset, head.epoch, head.type)


class Sink(Protocol):
    def on_event(self, channel: str, event: LiveEvent) -> None: ...

    def on_presence(self, channel: str, text: str) -> None: ...

    def on_reset(self, channel: str) -> None: ...


class SubscribeTimeout(Exception):
    """The subscription could not be confirmed in time (Redis unreachable)."""


def _command(*parts: str | bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class Subscriber:
    def __init__(
        self,
        redis_url: str,
        *,
        timeout: float = 5.0,
        ping_interval: float = 5.0,
        max_backoff: float = 2.0,
    ) -> None:
        self._url = redis_url
        self._timeout = timeout
        self._ping_interval = ping_interval
        self._max_backoff = max_backoff
        # pub/sub name (`rt:live:<channel>` / `rt:presence:<channel>`) -> sinks (ordered set)
        self._sinks: dict[str, dict[Sink, None]] = {}
        self._active: set[str] = set()
        self._inflight: dict[str, int] = {}
        self._waiting: dict[str, asyncio.Future[None]] = {}
        self._reset_due: set[str] = set()
        self._writer: asyncio.StreamWriter | None = None
        self._connected = asyncio.Event()
        self._stopping = False
        self.reconnects = 0
        self.messages = 0

    # ------------------------------------------------------------ public API

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def channel_count(self) -> int:
        return len(self._sinks)

    async def add(self, name: str, sink: Sink) -> None:
        """Deliver `name` to `sink`; returns once Redis confirms the subscription is active."""
        sinks = self._sinks.get(name)
        if sinks is None:
            sinks = self._sinks[name] = {}
        sinks[sink] = None
        if name in self._active:
            return
        fut = self._waiting.get(name)
        if fut is None or fut.done():
            fut = asyncio.get_running_loop().create_future()
            self._waiting[name] = fut
            if name not in self._inflight and self._writer is not None and self.connected:
                self._send_subscribe([name])
        try:
            async with asyncio.timeout(self._timeout):
                await asyncio.shield(fut)
        except TimeoutError:
            self.remove(name, sink)
            raise SubscribeTimeout(name) from None

    def remove(self, name: str, sink: Sink) -> None:
        sinks = self._sinks.get(name)
        if sinks is None:
            return
        sinks.pop(sink, None)
        if sinks:
            return
        del self._sinks[name]
        if name in self._active and not self._inflight.get(name):
            self._active.discard(name)
            self._write(_command("UNSUBSCRIBE", name))
        # With a SUBSCRIBE in flight, the confirmation handler unsubscribes.

    async def run(self) -> None:
        """The supervised loop: connect, (re)subscribe, read; on any failure back off and retry."""
        backoff = 0.05
        first = True
        while not self._stopping:
            try:
                reader, writer = await self._connect()
            except (OSError, TimeoutError, ConnectionError, hiredis.ProtocolError) as exc:
                log.warning("realtime subscriber cannot connect", extra={"err": repr(exc)})
                await asyncio.sleep(backoff * (1 + random.random()))
                backoff = min(backoff * 2, self._max_backoff)
                continue
            self._writer = writer
            if not first:
                self.reconnects += 1
                self._reset_due = set(self._sinks)
                log.warning("realtime subscriber reconnected", extra={"channels": len(self._sinks)})
            first = False
            backoff = 0.05
            self._active.clear()
            self._inflight.clear()
            self._send_subscribe(list(self._sinks))
            self._connected.set()
            try:
                await self._read_loop(reader)
            except (OSError, TimeoutError, ConnectionError, hiredis.ProtocolError) as exc:
                if not self._stopping:
                    log.warning("realtime subscriber lost Redis", extra={"err": repr(exc)})
            finally:
                self._connected.clear()
                self._writer = None
                self._active.clear()
                self._inflight.clear()
                writer.close()

    async def stop(self) -> None:
        self._stopping = True
        if self._writer is not None:
            self._writer.close()

    # ------------------------------------------------------------ connection

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        opts: dict[str, Any] = dict(parse_url(self._url))
        async with asyncio.timeout(self._timeout):
            if "path" in opts:
                reader, writer = await asyncio.open_unix_connection(opts["path"])
            else:
                use_ssl = self._url.startswith("rediss://")
                reader, writer = await asyncio.open_connection(
                    opts.get("host", "localhost"),
                    int(opts.get("port", 6379)),
                    ssl=ssl.create_default_context() if use_ssl else None,
                )
            password = opts.get("password")
            if password:
                username = opts.get("username")
                args = ("AUTH", username, password) if username else ("AUTH", password)
                writer.write(_command(*args))
                parser = hiredis.Reader()
                while True:
                    data = await reader.read(4096)
                    if not data:
                        raise ConnectionError("connection closed during AUTH")
                    parser.feed(data)
                    reply = parser.gets()
                    if reply is not False:
                        break
                if isinstance(reply, hiredis.ReplyError):
                    writer.close()
                    raise ConnectionError(f"AUTH refused: {reply}")
        return reader, writer

    def _write(self, data: bytes) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(data)

    def _send_subscribe(self, names: Iterable[str]) -> None:
        names = list(names)
        for i in range(0, len(names), _SUBSCRIBE_BATCH):
            batch = names[i : i + _SUBSCRIBE_BATCH]
            for name in batch:
                self._inflight[name] = self._inflight.get(name, 0) + 1
            self._write(_command("SUBSCRIBE", *batch))

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        parser = hiredis.Reader()
        silent_rounds = 0
        while True:
            try:
                async with asyncio.timeout(self._ping_interval):
                    data = await reader.read(65536)
            except TimeoutError:
                silent_rounds += 1
                if silent_rounds >= 2:
                    raise TimeoutError("no answer to PING") from None
                self._write(_command("PING"))
                continue
            if not data:
                raise ConnectionError("Redis closed the pub/sub connection")
            silent_rounds = 0
            parser.feed(data)
            while True:
                reply = parser.gets()
                if reply is False:
                    break
                self._handle(reply)

    # ------------------------------------------------------------ replies

    def _handle(self, reply: Any) -> None:
        if isinstance(reply, hiredis.ReplyError):
            log.warning("realtime subscriber got an error reply", extra={"err": str(reply)})
            return
        if not isinstance(reply, list) or not reply:
            return
        kind = reply[0]
        if kind == b"message":
            self._dispatch(reply[1].decode(), reply[2])
        elif kind == b"subscribe":
            self._confirmed(reply[1].decode())
        # `unsubscribe` and `pong` replies need nothing.

    def _confirmed(self, name: str) -> None:
        left = self._inflight.get(name, 0) - 1
        if left > 0:
            self._inflight[name] = left
            return
        self._inflight.pop(name, None)
        if name not in self._sinks:
            self._write(_command("UNSUBSCRIBE", name))
            self._reset_due.discard(name)
            fut = self._waiting.pop(name, None)
            if fut is not None and not fut.done():
                fut.set_result(None)
            return
        self._active.add(name)
        fut = self._waiting.pop(name, None)
        if fut is not None and not fut.done():
            fut.set_result(None)
        if name in self._reset_due:
            self._reset_due.discard(name)
            channel = self._channel_of(name)
            for sink in tuple(self._sinks.get(name, ())):
                try:
                    sink.on_reset(channel)
                except Exception:
                    log.exception("realtime sink failed on reset")

    @staticmethod
    def _channel_of(name: str) -> str:
        if name.startswith(LIVE_PREFIX):
            return name[len(LIVE_PREFIX) :]
        if name.startswith(PRESENCE_PREFIX):
            return name[len(PRESENCE_PREFIX) :]
        return name

    def _dispatch(self, name: str, data: bytes) -> None:
        sinks = self._sinks.get(name)
        if not sinks:
            return
        self.messages += 1
        if name.startswith(LIVE_PREFIX):
            channel = name[len(LIVE_PREFIX) :]
            try:
                event = decode_event(channel, data)
            except (msgspec.DecodeError, UnicodeDecodeError):
                log.warning("undecodable event on %s", channel)
                return
            for sink in tuple(sinks):
                try:
                    sink.on_event(channel, event)
                except Exception:
                    log.exception("realtime sink failed on event")
        elif name.startswith(PRESENCE_PREFIX):
            channel = name[len(PRESENCE_PREFIX) :]
            text = data.decode()
            for sink in tuple(sinks):
                try:
                    sink.on_presence(channel, text)
                except Exception:
                    log.exception("realtime sink failed on presence")
        else:
            # Other names carry raw bytes (live-editing relay, `realtime/collab/`): handed as
            # they came to sinks that have `on_raw(name, data)`.
            for sink in tuple(sinks):
                handler = getattr(sink, "on_raw", None)
                if handler is None:
                    continue
                try:
                    handler(name, data)
                except Exception:
                    log.exception("realtime sink failed on a raw message")
