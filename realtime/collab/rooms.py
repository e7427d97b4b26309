"""The process's rooms: load on first join, unload when the last socket leaves.

A room exists only while it has sockets (or a short hold by a server-side edit); when the
last one leaves it is unloaded at once: its queued updates are stored, its text is
materialised, its log is compacted in the background, and it stops listening
(pycrdt-websocket PR #94 / jupyter-server-documents #192: rooms that were never freed).
Concurrent joins of one note share one load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator

from bson import ObjectId
from prometheus_client import Gauge
from redis.asyncio import Redis
from redis.exceptions import RedisError

from realtime.bus import live_channel
from realtime.collab.client import CollabClient
from realtime.collab.config import CollabConfig
from realtime.collab.gate import NoteGate, NoteGrant
from realtime.collab.room import Room
from realtime.collab.store import CollabStore
from realtime.subscriber import Subscriber
from server.core.background import Background

log = logging.getLogger("realtime.collab")

ROOMS_LOADED = Gauge("second_brain_collab_rooms", "Live-editing rooms loaded in this process")
SOCKETS = Gauge("second_brain_collab_sockets", "Live-editing sockets open in this process")


class Rooms:
    def __init__(
        self,
        *,
        store: CollabStore,
        gate: NoteGate,
        subscriber: Subscriber,
        redis: Redis,
        config: CollabConfig,
    ) -> None:
        self.store = store
        self.gate = gate
        self.subscriber = subscriber
        self.redis = redis
        self.config = config
        self.origin = secrets.token_bytes(8)  # this process, in relayed messages
        self.rooms: dict[str, Room] = {}
        self._loading: dict[str, asyncio.Future[Room]] = {}
        self._unloading: dict[str, asyncio.Task[None]] = {}
        self._compacting: set[str] = set()
        self.background = Background("collab")

    @staticmethod
    def live_name(channel: str) -> str:
        return live_channel(channel)

    # ------------------------------------------------------------ rooms

    async def _room(self, note_id: ObjectId, grant: NoteGrant) -> Room:
        key = str(note_id)
        while True:
            unloading = self._unloading.get(key)
            if unloading is not None:
                await asyncio.shield(unloading)
                continue
            room = self.rooms.get(key)
            if room is not None:
                return room
            pending = self._loading.get(key)
            if pending is not None:
                return await asyncio.shield(pending)
            fut: asyncio.Future[Room] = asyncio.get_running_loop().create_future()
            self._loading[key] = fut
            room = Room(note_id, grant.channel, self)
            try:
                await room.load(grant)
            except BaseException as exc:
                del self._loading[key]
                fut.set_exception(exc)
                fut.exception()  # retrieved: joiners that share it re-raise it themselves
                await self._stop(room)
                raise
            del self._loading[key]
            self.rooms[key] = room
            ROOMS_LOADED.inc()
            fut.set_result(room)
            return room

    async def join(self, note_id: ObjectId, client: CollabClient, grant: NoteGrant) -> Room:
        room = await self._room(note_id, grant)
        room.join(client)
        SOCKETS.inc()
        return room

    async def leave(self, room: Room, client: CollabClient) -> None:
        room.leave(client)
        SOCKETS.dec()
        await self._maybe_unload(room)

    @contextlib.asynccontextmanager
    async def held(self, note_id: ObjectId, grant: NoteGrant) -> AsyncIterator[Room]:
        """A room kept loaded for a server-side edit, even without sockets."""
        room = await self._room(note_id, grant)
        room.holds += 1
        try:
            yield room
        finally:
            room.holds -= 1
            await self._maybe_unload(room)

    async def _maybe_unload(self, room: Room) -> None:
        if room.clients or room.holds or self.rooms.get(room.key) is not room:
            return
        del self.rooms[room.key]
        ROOMS_LOADED.dec()
        task = asyncio.get_running_loop().create_task(self._stop(room))
        self._unloading[room.key] = task
        try:
            await asyncio.shield(task)
        finally:
            if self._unloading.get(room.key) is task:
                del self._unloading[room.key]

    async def _stop(self, room: Room) -> None:
        try:
            await room.close()
        except Exception:
            log.exception("collab room did not close cleanly", extra={"note": room.key})

    async def stop(self) -> None:
        for room in list(self.rooms.values()):
            for client in list(room.clients):
                client.close(1001, "server shutting down")
        for _ in range(100):
            if not self.rooms:
                break
            await asyncio.sleep(0.02)
        for room in list(self.rooms.values()):
            self.rooms.pop(room.key, None)
            ROOMS_LOADED.dec()
            await self._stop(room)
        await self.background.drain()

    # ------------------------------------------------------------ relay and compaction

    async def publish(self, name: str, messages: list[bytes]) -> None:
        """To the other processes; a failure is logged (they reload after Redis is back)."""
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for message in messages:
                    pipe.publish(name, message)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("collab relay publish failed", extra={"err": str(exc)})

    def publish_soon(self, name: str, message: bytes) -> None:
        self.background.spawn(lambda: self.publish(name, [message]))

    def compact_later(self, note_id: ObjectId) -> None:
        key = str(note_id)
        if key in self._compacting:
            return
        self._compacting.add(key)

        async def run() -> None:
            try:
                await self.store.compact(note_id)
            finally:
                self._compacting.discard(key)

        self.background.spawn(run)

    def stats(self) -> dict[str, int]:
        return {
            "rooms": len(self.rooms),
            "clients": sum(len(r.clients) for r in self.rooms.values()),
        }
