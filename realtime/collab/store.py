"""The persistence of live documents: append, load, compact (see documents.py).

Updates are appended with one `insert_many` per batch before anyone else sees them; loading
is the snapshot plus the log after it; compaction folds the log into a new snapshot with a
compare-and-set on the snapshot's version and only then deletes exactly the entries it read.
Yjs updates are idempotent and commute, so a crash between those two steps only leaves
entries that are applied twice, harmlessly.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pycrdt import Doc
from pymongo.errors import DuplicateKeyError

from realtime.collab.documents import CollabSnapshot, CollabUpdate
from server.core.clock import utcnow


@dataclass(slots=True)
class Loaded:
    snapshot: bytes | None
    version: int
    updates: list[bytes]
    update_ids: list[ObjectId]


class CollabStore:
    """Stateless: the collections come from Beanie's initialisation (`init_db`)."""

    @staticmethod
    def _updates() -> Any:
        return CollabUpdate.get_pymongo_collection()

    @staticmethod
    def _snapshots() -> Any:
        return CollabSnapshot.get_pymongo_collection()

    async def exists(self, note_id: ObjectId) -> bool:
        """Whether the note has a live document (a snapshot is written when one is seeded)."""
        return await self._snapshots().find_one({"_id": note_id}, {"_id": 1}) is not None

    async def seed(self, note_id: ObjectId, state: bytes) -> None:
        """Store the first state of a note's document unless another process did first."""
        # A concurrent seed may win (duplicate key): its state is the one everybody loads.
        with contextlib.suppress(DuplicateKeyError):
            await self._snapshots().update_one(
                {"_id": note_id},
                {
                    "$setOnInsert": {
                        "state": state,
                        "version": 0,
                        "updates": 0,
                        "updated_at": utcnow(),
                    }
                },
                upsert=True,
            )

    async def append(self, note_id: ObjectId, updates: list[bytes]) -> None:
        now = utcnow()
        await self._updates().insert_many(
            [{"note_id": note_id, "data": u, "at": now} for u in updates], ordered=True
        )

    async def load(self, note_id: ObjectId, *, after: ObjectId | None = None) -> Loaded:
        """The snapshot and the log (or only the log entries after `after`)."""
        snap = None
        version = 0
        if after is None:
            raw = await self._snapshots().find_one({"_id": note_id})
            if raw is not None:
                snap, version = bytes(raw["state"]), int(raw.get("version", 0))
        query: dict[str, Any] = {"note_id": note_id}
        if after is not None:
            query["_id"] = {"$gt": after}
        rows = await self._updates().find(query, {"data": 1}).sort("_id", 1).to_list()
        return Loaded(snap, version, [bytes(r["data"]) for r in rows], [r["_id"] for r in rows])

    async def log_size(self, note_id: ObjectId) -> int:
        return int(await self._updates().count_documents({"note_id": note_id}))

    async def compact(self, note_id: ObjectId) -> int:
        """Fold the log into the snapshot; returns how many entries were folded (0 if another
        process compacted meanwhile: its snapshot holds them, ours is dropped)."""
        loaded = await self.load(note_id)
        if not loaded.updates:
            return 0
        doc: Doc[Any] = Doc()
        if loaded.snapshot is not None:
            doc.apply_update(loaded.snapshot)
        for update in loaded.updates:
            doc.apply_update(update)
        state = doc.get_update()
        done = await self._snapshots().update_one(
            {"_id": note_id, "version": loaded.version},
            {
                "$set": {"state": state, "updated_at": utcnow()},
                "$inc": {"version": 1, "updates": len(loaded.updates)},
            },
        )
        if done.matched_count != 1:
            return 0
        await self._updates().delete_many({"_id": {"$in": loaded.update_ids}})
        return len(loaded.updates)

    async def drop(self, note_id: ObjectId) -> None:
        await self._updates().delete_many({"note_id": note_id})
        await self._snapshots().delete_one({"_id": note_id})
