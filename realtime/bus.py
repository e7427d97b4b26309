"""Publish side of the event bus.

One Lua script appends an event to its channel's bounded Redis stream and publishes it for
live delivery, in one atomic step, assigning the channel's next offset and reporting its
epoch. Keys use a `{channel}` hash tag so a channel's keys share one Redis Cluster slot.

- `rt:{<channel>}:meta`   hash `epoch`, `offset`
- `rt:{<channel>}:stream` stream with entry ids `<offset>-1`, field `e` = the event JSON
- pub/sub channel `rt:live:<channel>` carries the same JSON

If the meta hash is gone (Redis restarted or flushed) a new epoch starts at offset 1 and any
stale stream is dropped, so a client resuming with an old epoch is told it cannot recover.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from bson import ObjectId
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

log = logging.getLogger("realtime.bus")

LIVE_PREFIX = "rt:live:"

_PUBLISH_LUA = """
local meta = KEYS[1]
local stream = KEYS[2]
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', stream)
  redis.call('HSET', meta, 'epoch', epoch, 'offset', 0)
end
local offset = redis.call('HINCRBY', meta, 'offset', 1)
local event = '{"offset":' .. offset .. ',"epoch":"' .. epoch .. '",' .. ARGV[2]
redis.call('XADD', stream, 'MAXLEN', '~', ARGV[3], offset .. '-1', 'e', event)
redis.call('PUBLISH', ARGV[4], event)
return {offset, epoch}
"""


def meta_key(channel: str) -> str:
    return f"rt:{{{channel}}}:meta"


def stream_key(channel: str) -> str:
    return f"rt:{{{channel}}}:stream"


def live_channel(channel: str) -> str:
    return f"{LIVE_PREFIX}{channel}"


@dataclass(frozen=True, slots=True)
class PublishedEvent:
    channel: str
    type: str
    offset: int
    epoch: str
    ts: float


def _enc_hook(value: Any) -> Any:
    """ObjectIds (and anything else with a faithful `str`) travel as strings."""
    if isinstance(value, ObjectId):
        return str(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__} in an event")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook)


def encode_body(channel: str, type_: str, data: Any, ts: float) -> bytes:
    """The event JSON without its leading `{"offset":..,"epoch":..,` (the script adds those)."""
    whole = _encoder.encode({"channel": channel, "type": type_, "data": data, "ts": ts})
    return whole[1:]


class UndocumentedEvent(RuntimeError):
    """An event type missing from the catalog, or a payload of another Struct: a schema bug."""


class EventBus:
    """`await bus.publish(channel, type, data)` after a write commits.

    A failed publish is logged and counted, never raised into the caller whose write already
    committed, and never stops the next publish (each call runs the script afresh).

    With a `catalog` (type -> payload Struct, from the composition root) every event is
    checked against it: `strict` refuses an undocumented one with `UndocumentedEvent` (the Tx
    checks when the event is queued, so the write aborts), otherwise it is logged and sent.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        stream_maxlen: int = 1000,
        catalog: Mapping[str, type[Any]] | None = None,
        strict: bool = True,
    ) -> None:
        self._redis = redis
        self._maxlen = stream_maxlen
        self._sha: str | None = None
        self._catalog = catalog
        self._strict = strict
        self.failures = 0

    def check(self, type_: str, data: Any) -> None:
        """Refuse (strict) or log an event the catalog does not document."""
        if self._catalog is None:
            return
        payload = self._catalog.get(type_)
        if payload is not None and isinstance(data, payload):
            return
        problem = (
            f"event type {type_!r} is not in the event catalog (server/event_catalog.py)"
            if payload is None
            else f"{type_} carries a {type(data).__name__}, not its {payload.__name__}"
        )
        if self._strict:
            raise UndocumentedEvent(problem)
        log.warning("undocumented event", extra={"type": type_, "problem": problem})

    async def publish(self, channel: str, type_: str, data: Any) -> PublishedEvent | None:
        try:
            return await self.publish_or_raise(channel, type_, data)
        except (RedisError, OSError) as exc:
            self.failures += 1
            log.warning(
                "event publish failed", extra={"channel": channel, "type": type_, "err": str(exc)}
            )
            return None

    async def publish_or_raise(self, channel: str, type_: str, data: Any) -> PublishedEvent:
        self.check(type_, data)
        ts = time.time()
        body = encode_body(channel, type_, data, ts)
        keys = [meta_key(channel), stream_key(channel)]
        args: list[str | bytes | int] = [
            secrets.token_hex(8),
            body,
            self._maxlen,
            live_channel(channel),
        ]
        if self._sha is None:
            self._sha = await self._redis.script_load(_PUBLISH_LUA)
        try:
            offset, epoch = await self._redis.evalsha(self._sha, len(keys), *keys, *args)
        except NoScriptError:
            self._sha = await self._redis.script_load(_PUBLISH_LUA)
            offset, epoch = await self._redis.evalsha(self._sha, len(keys), *keys, *args)
        if isinstance(epoch, bytes):
            epoch = epoch.decode()
        return PublishedEvent(channel, type_, int(offset), str(epoch), ts)

    async def publish_many(
        self, events: Sequence[tuple[str, str, Any]]
    ) -> list[PublishedEvent | None]:
        """Several events in one pipelined round trip, in order (each still its own atomic
        script run). Like `publish`, a failure is logged and counted, never raised."""
        try:
            return await self._publish_pipelined(events)
        except (RedisError, OSError) as exc:
            self.failures += 1
            log.warning("event publish failed", extra={"events": len(events), "err": str(exc)})
            return [None] * len(events)

    async def _publish_pipelined(
        self, events: Sequence[tuple[str, str, Any]]
    ) -> list[PublishedEvent | None]:
        if self._sha is None:
            self._sha = await self._redis.script_load(_PUBLISH_LUA)
        ts = time.time()
        pipe = self._redis.pipeline(transaction=False)
        for channel, type_, data in events:
            self.check(type_, data)
            pipe.evalsha(
                self._sha,
                2,
                meta_key(channel),
                stream_key(channel),
                secrets.token_hex(8),
                encode_body(channel, type_, data, ts),
                self._maxlen,
                live_channel(channel),
            )
        results = await pipe.execute(raise_on_error=False)
        out: list[PublishedEvent | None] = []
        for (channel, type_, data), result in zip(events, results, strict=True):
            if isinstance(result, NoScriptError):  # Redis restarted: load it, send this one
                out.append(await self.publish(channel, type_, data))
                continue
            if isinstance(result, Exception):
                raise result
            offset, epoch = result
            if isinstance(epoch, bytes):
                epoch = epoch.decode()
            out.append(PublishedEvent(channel, type_, int(offset), str(epoch), ts))
        return out

    async def position(self, channel: str) -> tuple[str | None, int]:
        """The channel's current (epoch, offset); (None, 0) before its first event."""
        epoch, offset = await self._redis.hmget(meta_key(channel), "epoch", "offset")
        if epoch is None:
            return None, 0
        return (epoch.decode() if isinstance(epoch, bytes) else epoch), int(offset or 0)

    async def read_since(self, channel: str, offset: int, limit: int = 1000) -> list[bytes]:
        """Events with an offset greater than `offset`, oldest first, as stored JSON."""
        entries = await self._redis.xrange(stream_key(channel), f"{offset + 1}-0", "+", count=limit)
        events: list[bytes] = []
        for _, fields in entries or []:
            raw = fields[b"e"] if fields else None
            if raw is not None:
                events.append(raw.encode() if isinstance(raw, str) else raw)
        return events
