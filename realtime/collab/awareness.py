"""Awareness (cursors, selections, who is here): ephemeral, never persisted.

The room keeps the latest state of every Yjs client id it heard of, from its own sockets
and, through the relay, from other processes. The server stamps each state with the
editor's verified identity (`user.id`, `user.name`, and a `user.color` derived from the id
unless the client chose one), so nobody can wear someone else's name. A client that closes
its socket is removed at once (a `null` state is broadcast); one that vanishes without a
close (its process was killed) is removed after `awareness_timeout_seconds` without renewal
(y-protocols clients renew every 15 s).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import msgspec

from realtime.collab.client import CollabClient
from realtime.collab.protocol import AwarenessEntry
from server.core.actor import Actor

_PALETTE = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4",
    "#42d4f4", "#f032e6", "#469990", "#9a6324", "#800000",
)  # fmt: skip


def colour_for(user_id: str) -> str:
    return _PALETTE[hashlib.sha256(user_id.encode()).digest()[0] % len(_PALETTE)]


def stamp(state: str, actor: Actor) -> str:
    """The state with the server's word on who this is; non-object states pass unchanged."""
    try:
        value = msgspec.json.decode(state)
    except msgspec.DecodeError:
        return "null"
    if not isinstance(value, dict):
        return state
    uid = str(actor.user_id)
    given = value.get("user")
    user: dict[str, Any] = given if isinstance(given, dict) else {}
    user["id"] = uid
    user["name"] = actor.username
    if not isinstance(user.get("color"), str):
        user["color"] = colour_for(uid)
    value["user"] = user
    return msgspec.json.encode(value).decode()


@dataclass(slots=True)
class Peer:
    clock: int
    state: str
    owner: CollabClient | None  # None: a client of another process
    seen: float


class AwarenessStates:
    def __init__(self) -> None:
        self.peers: dict[int, Peer] = {}

    def apply(
        self, entries: tuple[AwarenessEntry, ...], owner: CollabClient | None, now: float
    ) -> list[AwarenessEntry]:
        """Take the entries that are news (y-protocols' clock rule); returns them, stamped
        when they come from our own socket."""
        taken: list[AwarenessEntry] = []
        for e in entries:
            peer = self.peers.get(e.client_id)
            if peer is not None and owner is not None and peer.owner not in (None, owner):
                continue  # another socket's client id
            if peer is not None and e.clock < peer.clock:
                continue
            if (
                peer is not None
                and e.clock == peer.clock
                and not (e.state == "null" and peer.state != "null")
            ):
                peer.seen = now  # a renewal
                continue
            state = e.state
            if owner is not None and state != "null":
                state = stamp(state, owner.actor)
            if state == "null":
                self.peers.pop(e.client_id, None)
                if owner is not None:
                    owner.awareness_ids.discard(e.client_id)
            else:
                self.peers[e.client_id] = Peer(e.clock, state, owner, now)
                if owner is not None:
                    owner.awareness_ids.add(e.client_id)
            taken.append(AwarenessEntry(e.client_id, e.clock, state))
        return taken

    def remove_owner(self, owner: CollabClient) -> list[AwarenessEntry]:
        """A socket closed: its clients leave (a `null` state one clock later)."""
        gone: list[AwarenessEntry] = []
        for cid in owner.awareness_ids:
            peer = self.peers.get(cid)
            if peer is not None and peer.owner is owner:
                del self.peers[cid]
                gone.append(AwarenessEntry(cid, peer.clock + 1, "null"))
        owner.awareness_ids.clear()
        return gone

    def expire(self, now: float, timeout: float) -> list[AwarenessEntry]:
        gone: list[AwarenessEntry] = []
        for cid, peer in list(self.peers.items()):
            if now - peer.seen > timeout:
                del self.peers[cid]
                if peer.owner is not None:
                    peer.owner.awareness_ids.discard(cid)
                gone.append(AwarenessEntry(cid, peer.clock + 1, "null"))
        return gone

    def current(self) -> list[AwarenessEntry]:
        return [AwarenessEntry(cid, p.clock, p.state) for cid, p in self.peers.items()]
