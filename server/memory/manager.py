"""The only write path of memories. Agents may propose and update memories (visible to the
user through `memory.saved`), but only the user deletes one: a delete on the agent or voice
channel is refused."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import AsyncMongoClient

from auth.scopes import require_scope
from realtime.bus import EventBus
from server.core.actor import Actor
from server.core.channels import user_channel
from server.core.clock import utcnow
from server.core.db import Tx, run_in_transaction
from server.core.errors import Conflict, Forbidden, NotFound
from server.core.wire import iso, validate
from server.memory.documents import Memory, MemoryVersion
from server.memory.recall import MemoryRecall, Remembered
from server.memory.schemas import (
    MemoryCreate,
    MemoryDeleted,
    MemorySaved,
    MemoryUpdate,
    MemoryVersionView,
    MemoryView,
)
from server.search.embedders import Embedder

MAX_MEMORIES = 1000
RECALL_LIMIT = 5  # memories put into the model's context per turn, at most


def view(m: Memory) -> MemoryView:
    return MemoryView(
        id=str(m.id),
        text=m.text,
        version=m.version,
        via=m.via,
        history=[
            MemoryVersionView(version=h.version, text=h.text, via=h.via, at=iso(h.at) or "")
            for h in m.history
        ],
        created_at=iso(m.created_at) or "",
        updated_at=iso(m.updated_at) or "",
    )


def not_found() -> NotFound:
    return NotFound("No such memory.", code="MEMORY_NOT_FOUND")


class MemoryManager:
    def __init__(
        self, *, mongo: AsyncMongoClient[Any], bus: EventBus, embedder: Embedder | None = None
    ) -> None:
        self.mongo = mongo
        self.bus = bus
        self.recaller = MemoryRecall(embedder)

    async def recall(self, actor: Actor, text: str, limit: int = RECALL_LIMIT) -> list[Remembered]:
        """The user's memories relevant to `text` (at most `limit`, best first): what an
        agent's turn puts into the model's context. Read-only."""
        require_scope(actor, "notes:read")
        raws = (
            await Memory.get_pymongo_collection()
            .find({"user_id": actor.user_id}, {"text": 1, "version": 1})
            .sort("updated_at", -1)
            .to_list(MAX_MEMORIES)
        )
        memories = [Remembered(str(r["_id"]), int(r["version"]), str(r["text"])) for r in raws]
        return await self.recaller.rank(text, memories, min(limit, RECALL_LIMIT))

    async def list(self, actor: Actor) -> list[MemoryView]:
        require_scope(actor, "notes:read")
        raws = (
            await Memory.get_pymongo_collection()
            .find({"user_id": actor.user_id})
            .sort("updated_at", -1)
            .to_list(MAX_MEMORIES)
        )
        return [view(Memory.model_validate(r)) for r in raws]

    async def _load(self, actor: Actor, memory_id: str) -> Memory:
        if not ObjectId.is_valid(memory_id):
            raise not_found()
        raw = await Memory.get_pymongo_collection().find_one(
            {"_id": ObjectId(memory_id), "user_id": actor.user_id}
        )
        if raw is None:
            raise not_found()
        return Memory.model_validate(raw)

    async def create(self, actor: Actor, cmd: MemoryCreate) -> MemoryView:
        require_scope(actor, "notes:write")
        cmd = validate(cmd)
        now = utcnow()
        memory = Memory(
            user_id=actor.user_id,
            text=cmd.text.strip(),
            via=actor.channel,
            history=[MemoryVersion(version=1, text=cmd.text.strip(), via=actor.channel, at=now)],
            created_at=now,
            updated_at=now,
        )

        async def work(tx: Tx) -> MemoryView:
            count = await Memory.get_pymongo_collection().count_documents(
                {"user_id": actor.user_id}, session=tx.session
            )
            if count >= MAX_MEMORIES:
                raise Conflict("Too many memories.", code="MEMORY_QUOTA")
            raw = memory.model_dump(by_alias=True, exclude={"id"})
            result = await Memory.get_pymongo_collection().insert_one(raw, session=tx.session)
            memory.id = result.inserted_id
            out = view(memory)
            tx.publish(user_channel(actor.user_id), "memory.saved", MemorySaved(memory=out))
            return out

        return await run_in_transaction(self.mongo, work, publisher=self.bus)

    async def update(self, actor: Actor, memory_id: str, cmd: MemoryUpdate) -> MemoryView:
        """A new version; the old text stays in `history`."""
        require_scope(actor, "notes:write")
        cmd = validate(cmd)

        async def work(tx: Tx) -> MemoryView:
            current = await self._load(actor, memory_id)
            base = cmd.base_version if cmd.base_version is not None else current.version
            if base != current.version:
                raise Conflict(
                    "The memory changed meanwhile.",
                    code="VERSION_CONFLICT",
                    details=[{"currentVersion": current.version}],
                )
            now = utcnow()
            entry = MemoryVersion(
                version=current.version + 1, text=cmd.text.strip(), via=actor.channel, at=now
            )
            done = await Memory.get_pymongo_collection().update_one(
                {"_id": current.id, "version": current.version},
                {
                    "$set": {
                        "text": entry.text,
                        "version": entry.version,
                        "via": actor.channel,
                        "updated_at": now,
                    },
                    "$push": {"history": entry.model_dump()},
                },
                session=tx.session,
            )
            if done.modified_count != 1:
                raise Conflict("The memory changed meanwhile.", code="VERSION_CONFLICT")
            current.text, current.version, current.via = entry.text, entry.version, actor.channel
            current.updated_at = now
            current.history.append(entry)
            out = view(current)
            tx.publish(user_channel(actor.user_id), "memory.saved", MemorySaved(memory=out))
            return out

        return await run_in_transaction(self.mongo, work, publisher=self.bus)

    async def delete(self, actor: Actor, memory_id: str) -> None:
        """Only the user deletes: never an agent or the voice assistant on their behalf."""
        require_scope(actor, "notes:write")
        if actor.channel in ("agent", "voice"):
            raise Forbidden(
                "Only you can delete a memory, in the app.", code="MEMORY_DELETE_USER_ONLY"
            )

        async def work(tx: Tx) -> None:
            current = await self._load(actor, memory_id)
            await Memory.get_pymongo_collection().delete_one(
                {"_id": current.id}, session=tx.session
            )
            tx.publish(
                user_channel(actor.user_id), "memory.deleted", MemoryDeleted(memory_id=memory_id)
            )

        await run_in_transaction(self.mongo, work, publisher=self.bus)
