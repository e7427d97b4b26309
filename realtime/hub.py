"""The process's real-time hub: subscriber, connections, subscriptions, presence, tickets.

Built and started by the api lifespan (`server/app.py`), shared by the WebSocket gateway and
the SSE stream. It owns the only background task of `realtime/`: the subscriber's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import msgspec
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from auth.manager import AuthManager
from realtime.authorizers import ChannelAuthorizers
from realtime.bus import EventBus, live_channel
from realtime.config import RealtimeConfig
from realtime.connection import Connection
from realtime.frames import ChannelState
from realtime.presence import PresenceTracker, presence_channel
from realtime.protocol import CLOSE_GOING_AWAY, CLOSE_SESSION_REVOKED, Since
from realtime.subscriber import LiveEvent, Subscriber, SubscribeTimeout
from realtime.tickets import TicketStore

log = logging.getLogger("realtime.hub")


class RealtimeError(Exception):
    """A refused client request; `code` is one of `protocol.ERROR_CODES`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _RevokedData(msgspec.Struct, rename="camel"):
    session_ids: list[str] = []


class _Revoked(msgspec.Struct):
    data: _RevokedData


_revoked_decoder = msgspec.json.Decoder(_Revoked)


def _credential_of(conn: Connection) -> str | None:
    """What a revocation names for this stream: its login session, else its API token
    (`tok:<id>`, an SSE stream opened with an `sbp_` bearer; issue 15, F2)."""
    return conn.actor.session_id or conn.actor.credential_id


class RealtimeHub:
    def __init__(
        self,
        *,
        auth: AuthManager,
        authorizers: ChannelAuthorizers,
        config: RealtimeConfig,
    ) -> None:
        # An own client with a *blocking* pool: a burst of connects waits for a connection
        # (up to the timeout) instead of failing with "too many connections".
        self.redis = Redis(
            connection_pool=BlockingConnectionPool.from_url(
                config.redis_url,
                max_connections=config.redis_max_connections,
                timeout=config.redis_timeout,
                socket_timeout=config.redis_timeout,
                socket_connect_timeout=config.redis_timeout,
                # A pooled connection may be stale after a Redis restart: retry on a new one.
                retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
                retry_on_error=[RedisConnectionError, RedisTimeoutError],
            )
        )
        self.bus = EventBus(self.redis)  # reads only: position() and read_since()
        redis = self.redis
        self.auth = auth
        self.authorizers = authorizers
        self.config = config
        self.subscriber = Subscriber(
            config.redis_url,
            timeout=config.redis_timeout,
            ping_interval=config.subscriber_ping_interval,
        )
        self.presence = PresenceTracker(redis, ttl=config.presence_ttl)
        self.tickets = TicketStore(
            redis, ttl=config.ticket_ttl, stream_reuse=config.sse_ticket_reuse
        )
        self.connections: set[Connection] = set()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ lifespan

    async def start(self) -> None:
        self._task = asyncio.create_task(self._supervise(), name="realtime-subscriber")

    async def _supervise(self) -> None:
        while True:
            try:
                await self.subscriber.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("realtime subscriber crashed; restarting")
                await asyncio.sleep(0.5)

    async def stop(self) -> None:
        for conn in list(self.connections):
            conn.close(CLOSE_GOING_AWAY, "server shutting down")
        if self.connections:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    while self.connections:
                        await asyncio.sleep(0.05)
        await self.subscriber.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.redis.aclose()

    # ------------------------------------------------------------ connections

    async def attach(self, conn: Connection) -> None:
        """Register a new connection; it always listens to its user's channel for revocation."""
        self.connections.add(conn)
        try:
            await self.subscriber.add(live_channel(conn.user_channel), conn)
        except SubscribeTimeout as exc:
            raise RealtimeError("UNAVAILABLE", "Real-time delivery is unavailable.") from exc
        # A revocation published before the line above was listening is caught here.
        credential = _credential_of(conn)
        if credential and not await self.auth.session_is_live(credential):
            conn.close(CLOSE_SESSION_REVOKED, "session revoked")

    async def detach(self, conn: Connection) -> None:
        """Forget a connection: sinks go at once, presence entries in one short Redis call."""
        self.connections.discard(conn)
        present = [ch for ch, st in conn.subs.items() if st.presence]
        for channel in list(conn.subs):
            self._remove_sinks(conn, conn.subs.pop(channel))
        self.subscriber.remove(live_channel(conn.user_channel), conn)
        if present:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                async with asyncio.timeout(self.config.redis_timeout):
                    await self.presence.leave(present, self._member(conn))

    def check_revocation(self, conn: Connection, event: LiveEvent) -> None:
        try:
            revoked = _revoked_decoder.decode(event.raw).data.session_ids
        except msgspec.DecodeError:
            return
        if _credential_of(conn) in revoked:
            conn.close(CLOSE_SESSION_REVOKED, "session revoked")

    # ------------------------------------------------------------ subscriptions

    async def subscribe(
        self, conn: Connection, channel: str, since: Since | None, ref: str | None
    ) -> None:
        if channel in conn.subs:
            await self.drop(conn, channel)
        if len(conn.subs) >= self.config.max_subscriptions:
            raise RealtimeError(
                "TOO_MANY_SUBSCRIPTIONS",
                f"At most {self.config.max_subscriptions} subscriptions per connection.",
            )
        if not await self.authorizers.authorize(conn.actor, channel):
            raise RealtimeError("FORBIDDEN_CHANNEL", "You may not subscribe to this channel.")
        if conn.closing:
            return
        st = ChannelState(
            channel,
            presence=self.authorizers.has_presence(channel),
            recheck_on=self.authorizers.recheck_on(channel),
        )
        conn.subs[channel] = st
        try:
            await self.subscriber.add(live_channel(channel), conn)
            if st.presence:
                await self.subscriber.add(presence_channel(channel), conn)
        except SubscribeTimeout as exc:
            if conn.subs.get(channel) is st:
                del conn.subs[channel]
                self._remove_sinks(conn, st)
            raise RealtimeError("UNAVAILABLE", "Real-time delivery is unavailable.") from exc
        if conn.subs.get(channel) is not st:
            return
        conn.begin_sync(st, since, ref)
        if st.presence:
            await self.presence.touch([channel], self._member(conn))

    async def drop(self, conn: Connection, channel: str) -> bool:
        st = conn.subs.pop(channel, None)
        if st is None:
            return False
        self._remove_sinks(conn, st)
        if st.presence:
            with contextlib.suppress(RedisError, OSError, TimeoutError):
                async with asyncio.timeout(self.config.redis_timeout):
                    await self.presence.leave([channel], self._member(conn))
        return True

    async def heartbeat(self, conn: Connection) -> None:
        present = [ch for ch, st in conn.subs.items() if st.presence]
        if present:
            await self.presence.touch(present, self._member(conn))

    def _remove_sinks(self, conn: Connection, st: ChannelState) -> None:
        if st.channel != conn.user_channel:
            self.subscriber.remove(live_channel(st.channel), conn)
        if st.presence:
            self.subscriber.remove(presence_channel(st.channel), conn)

    @staticmethod
    def _member(conn: Connection) -> str:
        return PresenceTracker.member(str(conn.actor.user_id), conn.actor.username, conn.id)
