"""One note's live document in this process: its Y.Doc, its sockets, its awareness.

Every update from a socket goes through the room's single writer task: a batch is appended
to MongoDB first (`CollabStore.append`), then applied to the Y.Doc, sent to this process's
synced sockets and published to the relay for the others. So nothing reaches another editor
(or a new editor's sync step 2) before it is stored, and a crash loses only what nobody else
saw. Updates that arrive through the relay were stored by their process already: they are
applied and forwarded.

The room is also a sink of the process's pub/sub subscriber: for its relay channel
(`rt:collab:<noteId>`: updates and awareness of other processes; after a Redis reconnect the
room reloads from MongoDB so nothing relayed meanwhile is missed) and for the note's space
channel (access changes: every socket's access is checked again; lost → 4003).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from bson import ObjectId
from pycrdt import Doc, Text, get_state
from pymongo.errors import PyMongoError

from realtime.collab.awareness import AwarenessStates
from realtime.collab.client import CollabClient
from realtime.collab.gate import NoteGrant
from realtime.collab.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_MALFORMED,
    CLOSE_TRY_AGAIN,
    EMPTY_UPDATE,
    AwarenessEntry,
    AwarenessUpdate,
    Malformed,
    Message,
    QueryAwareness,
    SyncStep1,
    SyncUpdate,
    awareness_message,
    parse_awareness,
    permission_denied,
    read_varbytes,
    sync_step1,
    sync_step2,
    sync_update,
)
from realtime.subscriber import LiveEvent
from server.core.actor import Actor

if TYPE_CHECKING:
    from realtime.collab.rooms import Rooms

log = logging.getLogger("realtime.collab")

RELAY_UPDATE = b"U"
RELAY_AWARENESS = b"A"
NO_ORIGIN = b"\x00" * 8  # published outside any room (a REST edit): every room applies it
_QUIET_TYPES = frozenset({"note.created", "note.updated", "note.restored"})


def relay_name(note_id: ObjectId | str) -> str:
    return f"rt:collab:{note_id}"


def seed_state(title: str, body: str) -> bytes:
    """The first state of a note's document: its title and Markdown body as two Y.Texts."""
    doc: Doc[Any] = Doc()
    doc.get("title", type=Text).insert(0, title)
    doc.get("body", type=Text).insert(0, body)
    return doc.get_update()


def validate_update(update: bytes) -> None:
    """Yrs decodes the whole update (without applying it) or refuses it."""
    if update == EMPTY_UPDATE:
        return
    try:
        get_state(update)
    except Exception as exc:
        raise Malformed("the update does not decode") from exc


class _Pending:
    __slots__ = ("client", "done", "update")

    def __init__(
        self, client: CollabClient | None, update: bytes, done: asyncio.Future[None] | None
    ) -> None:
        self.client = client
        self.update = update
        self.done = done


class Room:
    def __init__(self, note_id: ObjectId, channel: str, rooms: Rooms) -> None:
        self.note_id = note_id
        self.key = str(note_id)
        self.channel = channel
        self.rooms = rooms
        self.config = rooms.config
        self.doc: Doc[Any] = Doc()
        self.clients: set[CollabClient] = set()
        self.awareness = AwarenessStates()
        self.holds = 0
        self.closed = False
        self.appended = 0  # updates this room stored since it last compacted
        self.editor: Actor | None = None  # the last local writer (materialisation acts as them)
        self._inbox: list[_Pending] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._materialise_at: asyncio.TimerHandle | None = None
        self._sweep_at: asyncio.TimerHandle | None = None
        self._recheck: asyncio.Task[None] | None = None
        self._recheck_again = False

    # ------------------------------------------------------------ lifecycle

    async def load(self, grant: NoteGrant) -> None:
        """Listen first, then read: anything stored after the read arrives through the relay."""
        sub = self.rooms.subscriber
        await sub.add(relay_name(self.note_id), self)
        await sub.add(self.rooms.live_name(self.channel), self)
        store = self.rooms.store
        loaded = await store.load(self.note_id)
        if loaded.snapshot is None:
            await store.seed(self.note_id, seed_state(grant.title, grant.body))
            loaded = await store.load(self.note_id)
        if loaded.snapshot is not None:
            self.doc.apply_update(loaded.snapshot)
        for update in loaded.updates:
            self.doc.apply_update(update)
        self._writer = asyncio.create_task(self._write_loop(), name=f"collab-{self.key}")
        self._schedule_sweep()

    async def close(self) -> None:
        """Unload: store what is queued, materialise what is due, stop listening."""
        self.closed = True
        sub = self.rooms.subscriber
        sub.remove(relay_name(self.note_id), self)
        sub.remove(self.rooms.live_name(self.channel), self)
        while self._inbox:
            self._wake.set()
            await asyncio.sleep(0.01)
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        for handle in (self._materialise_at, self._sweep_at):
            if handle is not None:
                handle.cancel()
        if self._materialise_at is not None:
            self._materialise_at = None
            await self._materialise()
        if self._recheck is not None:
            self._recheck.cancel()
        if self.appended:
            self.rooms.compact_later(self.note_id)

    # ------------------------------------------------------------ sockets

    def join(self, client: CollabClient) -> None:
        """Start the handshake: our state vector (the client answers with what we miss) and
        everyone's awareness. The client gets live updates once it asked for ours."""
        self.clients.add(client)
        client.send(sync_step1(self.doc.get_state()))
        states = self.awareness.current()
        if states:
            client.send(awareness_message(states))

    def leave(self, client: CollabClient) -> None:
        self.clients.discard(client)
        gone = self.awareness.remove_owner(client)
        if gone:
            self._awareness_out(gone, None)

    def handle(self, client: CollabClient, msg: Message) -> None:
        if isinstance(msg, SyncStep1):
            try:
                diff = self.doc.get_update(msg.state_vector)
            except Exception as exc:
                raise Malformed("the state vector does not decode") from exc
            client.send(sync_step2(diff))
            client.synced = True
        elif isinstance(msg, SyncUpdate):
            if msg.update == EMPTY_UPDATE:
                return
            if not client.can_write:
                self._tell_read_only(client)
                return
            validate_update(msg.update)
            self.editor = client.actor
            self._inbox.append(_Pending(client, msg.update, None))
            self._wake.set()
        elif isinstance(msg, AwarenessUpdate):
            taken = self.awareness.apply(msg.entries, client, time.monotonic())
            if taken:
                self._awareness_out(taken, client)
        elif isinstance(msg, QueryAwareness):
            states = self.awareness.current()
            if states:
                client.send(awareness_message(states))

    def _tell_read_only(self, client: CollabClient) -> None:
        now = time.monotonic()
        if now - client.told_read_only_at >= 1.0:
            client.told_read_only_at = now
            client.send(permission_denied("read-only: your changes to this note were not kept"))

    async def submit(self, update: bytes) -> None:
        """Store and spread a server-side update (waits until it is stored)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inbox.append(_Pending(None, update, done))
        self._wake.set()
        await done

    # ------------------------------------------------------------ the writer

    async def _write_loop(self) -> None:
        while True:
            if not self._inbox:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch, self._inbox = self._inbox, []
            try:
                await self._store([p.update for p in batch])
            except PyMongoError as exc:
                log.warning("collab update not stored", extra={"note": self.key, "err": str(exc)})
                for p in batch:
                    if p.client is not None:
                        p.client.close(CLOSE_TRY_AGAIN, "storage unavailable")
                    if p.done is not None and not p.done.done():
                        p.done.set_exception(exc)
                continue
            local = False
            for p in batch:
                self._apply_and_forward(p.update, p.client)
                local = local or p.client is not None
                if p.done is not None and not p.done.done():
                    p.done.set_result(None)
            self.appended += len(batch)
            await self.rooms.publish(
                relay_name(self.note_id),
                [RELAY_UPDATE + self.rooms.origin + p.update for p in batch],
            )
            if local:
                self._schedule_materialise()
            if self.appended >= self.config.compact_after:
                self.appended = 0
                self.rooms.compact_later(self.note_id)

    async def _store(self, updates: list[bytes]) -> None:
        delay = 0.1
        for attempt in range(self.config.store_retries):
            try:
                await self.rooms.store.append(self.note_id, updates)
                return
            except PyMongoError:
                if attempt + 1 >= self.config.store_retries:
                    raise
                await asyncio.sleep(delay)
                delay *= 2

    def _apply_and_forward(self, update: bytes, origin: CollabClient | None) -> None:
        try:
            self.doc.apply_update(update)
        except Exception:
            log.exception("stored update did not apply", extra={"note": self.key})
            if origin is not None:
                origin.close(CLOSE_MALFORMED, "update refused")
            return
        msg = sync_update(update)
        for client in self.clients:
            if client is not origin and client.synced:
                client.send(msg)

    # ------------------------------------------------------------ awareness

    def _awareness_out(self, entries: list[AwarenessEntry], origin: CollabClient | None) -> None:
        msg = awareness_message(entries)
        for client in self.clients:
            if client is not origin:
                client.send(msg)
        if origin is not None or any(e.state == "null" for e in entries):
            self.rooms.publish_soon(
                relay_name(self.note_id), RELAY_AWARENESS + self.rooms.origin + msg[1:]
            )

    def _schedule_sweep(self) -> None:
        loop = asyncio.get_running_loop()
        self._sweep_at = loop.call_later(self.config.awareness_timeout_seconds / 3, self._sweep)

    def _sweep(self) -> None:
        if self.closed:
            return
        gone = self.awareness.expire(time.monotonic(), self.config.awareness_timeout_seconds)
        # Removals, or an empty awareness update as a keep-alive: y-websocket clients
        # reconnect after 30 s without a message.
        msg = awareness_message(gone)
        for client in self.clients:
            client.send(msg)
        self._schedule_sweep()

    # ------------------------------------------------------------ materialisation

    def _schedule_materialise(self) -> None:
        if self._materialise_at is not None:
            self._materialise_at.cancel()
        loop = asyncio.get_running_loop()
        self._materialise_at = loop.call_later(
            self.config.materialise_idle_seconds, self._materialise_due
        )

    def _materialise_due(self) -> None:
        """The room went idle: materialise, and fold the log while nobody types (a
        compaction under load stalls SecantusDB's inserts: scripts/bench_collab.py)."""
        self._materialise_at = None
        self.rooms.background.spawn(self._materialise)
        if self.appended:
            self.appended = 0
            self.rooms.compact_later(self.note_id)

    async def _materialise(self) -> None:
        if self.editor is None:
            return
        title = str(self.doc.get("title", type=Text))
        body = str(self.doc.get("body", type=Text))
        await self.rooms.gate.materialise(self.editor, self.key, title, body)

    # ------------------------------------------------------------ subscriber sink

    def on_raw(self, name: str, data: bytes) -> None:
        if len(data) < 9 or data[1:9] == self.rooms.origin or self.closed:
            return
        kind, payload = data[:1], data[9:]
        if kind == RELAY_UPDATE:
            self._apply_and_forward(payload, None)
        elif kind == RELAY_AWARENESS:
            try:
                entries = parse_awareness(read_varbytes(payload))
            except Malformed:
                return
            taken = self.awareness.apply(entries, None, time.monotonic())
            if taken:
                msg = awareness_message(taken)
                for client in self.clients:
                    client.send(msg)

    def on_event(self, channel: str, event: LiveEvent) -> None:
        if event.type in _QUIET_TYPES or self.closed:
            return
        if self._recheck is not None and not self._recheck.done():
            self._recheck_again = True
            return
        self._recheck = asyncio.get_running_loop().create_task(self._recheck_all())

    def on_presence(self, channel: str, text: str) -> None:
        return None

    def on_reset(self, channel: str) -> None:
        """Redis came back: whatever the relay carried meanwhile is in MongoDB."""
        if not self.closed:
            self.rooms.background.spawn(self._reload)

    async def _reload(self) -> None:
        loaded = await self.rooms.store.load(self.note_id)
        before = self.doc.get_state()
        if loaded.snapshot is not None:
            self.doc.apply_update(loaded.snapshot)
        for update in loaded.updates:
            self.doc.apply_update(update)
        diff = self.doc.get_update(before)
        if diff != EMPTY_UPDATE:
            msg = sync_update(diff)
            for client in self.clients:
                if client.synced:
                    client.send(msg)

    async def _recheck_all(self) -> None:
        while True:
            self._recheck_again = False
            grants: dict[str, NoteGrant | None] = {}
            for client in list(self.clients):
                uid = str(client.actor.user_id)
                if uid not in grants:
                    grants[uid] = await self.rooms.gate.grant(client.actor, self.key)
                grant = grants[uid]
                if grant is None:
                    client.close(CLOSE_FORBIDDEN, "no access to this note")
                else:
                    client.can_write = grant.can_write
            if not self._recheck_again:
                return
