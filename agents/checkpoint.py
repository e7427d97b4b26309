"""LangGraph checkpoints in MongoDB on PyMongo's async client.

(`langgraph-checkpoint-mongodb` wraps a *synchronous* MongoClient in a thread pool and pulls
in langchain, langchain-mongodb and SQLAlchemy; this saver is the same two-collection layout
on the async client the app already has.)

- `chat_checkpoints`: one document per checkpoint, unique (thread_id, checkpoint_ns,
  checkpoint_id); checkpoint and metadata serialised with the graph's serde (binary).
- `chat_checkpoint_writes`: pending writes, unique (thread_id, checkpoint_ns, checkpoint_id,
  task_id, idx). A pending approval is such a write, so it survives restarts and any api
  process can resume it.

Settled threads (Redis `chat:settled:{thread}` = a checkpoint id): set by a run that ended
complete (no approval waiting) to the checkpoint it wrote last, while it still holds the
session lock; deleted whenever anyone takes the session lock (`SETTLE_ON_LOCK_LUA`, the
start of every run) and before every write here. So while it names this process's warm
checkpoint, nothing ran in the session and nothing wrote the thread since: the next turn
may use the warm checkpoint without asking MongoDB, and no approval can be waiting.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from bson.binary import Binary
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    copy_checkpoint,
    get_checkpoint_id,
    get_checkpoint_metadata,
)
from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

WARM_THREADS = 256  # threads whose last checkpoint (written here) is kept in memory
CHECKPOINTS = "chat_checkpoints"
WRITES = "chat_checkpoint_writes"
SETTLED_SECONDS = 24 * 3600


def settled_key(thread_id: str) -> str:
    return f"chat:settled:{thread_id}"


class MongoCheckpointSaver(BaseCheckpointSaver[str]):
    def __init__(self, db: AsyncDatabase[Any], *, redis: Redis) -> None:
        super().__init__()
        self.redis = redis
        self.checkpoints = db[CHECKPOINTS]
        self.writes = db[WRITES]
        # thread id -> its latest checkpoint, read ahead by the chat service while it stores
        # the user's message (under the session lock, so nothing else writes the thread);
        # the run's first `aget_tuple` takes it instead of asking MongoDB again.
        self._primed: dict[str, CheckpointTuple | None] = {}
        # thread id -> the checkpoint this process wrote last (no pending writes since): the
        # next turn's read-ahead only checks that it is still the newest (one small query)
        # instead of reading it back, its writes and all, and decoding it.
        self._warm: dict[str, CheckpointTuple] = {}

    async def setup(self) -> None:
        await self.checkpoints.create_index(
            [("thread_id", ASCENDING), ("checkpoint_ns", ASCENDING), ("checkpoint_id", DESCENDING)],
            unique=True,
        )
        await self.writes.create_index(
            [
                ("thread_id", ASCENDING),
                ("checkpoint_ns", ASCENDING),
                ("checkpoint_id", ASCENDING),
                ("task_id", ASCENDING),
                ("idx", ASCENDING),
            ],
            unique=True,
        )

    # ------------------------------------------------------------------ helpers

    def _load(self, type_: str, data: bytes) -> Any:
        return self.serde.loads_typed((type_, bytes(data)))

    def _dump(self, value: Any) -> tuple[str, Binary]:
        type_, data = self.serde.dumps_typed(value)
        return type_, Binary(data)

    async def _tuple(self, doc: dict[str, Any]) -> CheckpointTuple:
        ids = {
            "thread_id": doc["thread_id"],
            "checkpoint_ns": doc["checkpoint_ns"],
            "checkpoint_id": doc["checkpoint_id"],
        }
        writes = await self.writes.find(ids).sort([("task_id", 1), ("idx", 1)]).to_list()
        parent = doc.get("parent_checkpoint_id")
        return CheckpointTuple(
            config={"configurable": ids},
            checkpoint=self._load(doc["type"], doc["checkpoint"]),
            metadata=self._load(doc["metadata_type"], doc["metadata"]),
            parent_config=({"configurable": {**ids, "checkpoint_id": parent}} if parent else None),
            pending_writes=[
                (w["task_id"], w["channel"], self._load(w["type"], w["value"])) for w in writes
            ],
        )

    # ------------------------------------------------------------------ the saver API

    def warm_id(self, thread_id: str) -> str | None:
        """The id of the checkpoint this process wrote last in the thread (kept warm)."""
        warm = self._warm.get(thread_id)
        return None if warm is None else str(warm.config["configurable"]["checkpoint_id"])

    async def settle(self, thread_id: str) -> None:
        """The run holding the session lock ended complete: mark the thread settled at the
        checkpoint it wrote last (see the module's docstring)."""
        warm_id = self.warm_id(thread_id)
        if warm_id is not None:
            await self.redis.set(settled_key(thread_id), warm_id, ex=SETTLED_SECONDS)

    async def prime(self, thread_id: str, *, settled: bool = False) -> None:
        """Read the thread's latest checkpoint now, for the run that is about to start.
        `settled`: the session lock was taken with the thread settled at the warm
        checkpoint, which is then the newest without asking."""
        warm = self._warm.get(thread_id)
        if warm is not None and settled:
            self._primed[thread_id] = warm._replace(checkpoint=copy_checkpoint(warm.checkpoint))
            return
        if warm is not None:
            newest = await self.checkpoints.find_one(
                {"thread_id": thread_id, "checkpoint_ns": ""},
                sort=[("checkpoint_id", DESCENDING)],
                projection={"_id": 0, "checkpoint_id": 1},
            )
            warm_id = warm.config["configurable"]["checkpoint_id"]
            if newest is not None and newest["checkpoint_id"] == warm_id:
                self._primed[thread_id] = warm._replace(checkpoint=copy_checkpoint(warm.checkpoint))
                return
            self._warm.pop(thread_id, None)  # another process wrote the thread since
        self._primed[thread_id] = await self.aget_tuple(
            {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        )

    def unprime(self, thread_id: str) -> None:
        """Drop a read-ahead checkpoint the run did not take (the run ended or never ran)."""
        self._primed.pop(thread_id, None)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        conf = config["configurable"]
        if not conf.get("checkpoint_ns") and not get_checkpoint_id(config):
            thread_id = str(conf["thread_id"])
            if thread_id in self._primed:
                return self._primed.pop(thread_id)
        query: dict[str, Any] = {
            "thread_id": str(conf["thread_id"]),
            "checkpoint_ns": conf.get("checkpoint_ns", ""),
        }
        checkpoint_id = get_checkpoint_id(config)
        if checkpoint_id:
            query["checkpoint_id"] = checkpoint_id
        doc = await self.checkpoints.find_one(query, sort=[("checkpoint_id", DESCENDING)])
        return await self._tuple(doc) if doc else None

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        query: dict[str, Any] = {}
        if config is not None:
            conf = config["configurable"]
            if "thread_id" in conf:
                query["thread_id"] = str(conf["thread_id"])
            if "checkpoint_ns" in conf:
                query["checkpoint_ns"] = conf["checkpoint_ns"]
        if before is not None:
            query["checkpoint_id"] = {"$lt": before["configurable"]["checkpoint_id"]}
        cursor = self.checkpoints.find(query).sort("checkpoint_id", DESCENDING)
        returned = 0
        async for doc in cursor:
            item = await self._tuple(doc)
            if filter and any(item.metadata.get(k) != v for k, v in filter.items()):
                continue
            yield item
            returned += 1
            if limit is not None and returned >= limit:
                break

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        conf = config["configurable"]
        self.unprime(str(conf["thread_id"]))  # a write makes the read-ahead stale
        await self.redis.delete(settled_key(str(conf["thread_id"])))
        ids = {
            "thread_id": str(conf["thread_id"]),
            "checkpoint_ns": conf.get("checkpoint_ns", ""),
            "checkpoint_id": checkpoint["id"],
        }
        type_, data = self._dump(checkpoint)
        meta_type, meta = self._dump(get_checkpoint_metadata(config, metadata))
        await self.checkpoints.update_one(
            ids,
            {
                "$set": {
                    "parent_checkpoint_id": conf.get("checkpoint_id"),
                    "type": type_,
                    "checkpoint": data,
                    "metadata_type": meta_type,
                    "metadata": meta,
                    "created_at": datetime.now(UTC),
                }
            },
            upsert=True,
        )
        if ids["checkpoint_ns"] == "":
            self._keep_warm(ids, checkpoint, get_checkpoint_metadata(config, metadata), conf)
        return {"configurable": ids}

    def _keep_warm(
        self,
        ids: dict[str, Any],
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        conf: dict[str, Any],
    ) -> None:
        thread_id = ids["thread_id"]
        self._warm.pop(thread_id, None)
        if len(self._warm) >= WARM_THREADS:
            self._warm.pop(next(iter(self._warm)))  # the least recently written
        parent = conf.get("checkpoint_id")
        self._warm[thread_id] = CheckpointTuple(
            config={"configurable": dict(ids)},
            checkpoint=copy_checkpoint(checkpoint),
            metadata=metadata,
            parent_config=({"configurable": {**ids, "checkpoint_id": parent}} if parent else None),
            pending_writes=[],
        )

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        conf = config["configurable"]
        self.unprime(str(conf["thread_id"]))  # a write makes the read-ahead stale
        self._warm.pop(str(conf["thread_id"]), None)  # and the kept one lacks these writes
        await self.redis.delete(settled_key(str(conf["thread_id"])))
        ids = {
            "thread_id": str(conf["thread_id"]),
            "checkpoint_ns": conf.get("checkpoint_ns", ""),
            "checkpoint_id": conf["checkpoint_id"],
        }
        # Special writes (errors, interrupts, resumes) replace; ordinary ones are kept once.
        op = "$set" if all(w[0] in WRITES_IDX_MAP for w in writes) else "$setOnInsert"
        operations = []
        for idx, (channel, value) in enumerate(writes):
            type_, data = self._dump(value)
            operations.append(
                UpdateOne(
                    {**ids, "task_id": task_id, "idx": WRITES_IDX_MAP.get(channel, idx)},
                    {
                        op: {
                            "channel": channel,
                            "type": type_,
                            "value": data,
                            "task_path": task_path,
                        }
                    },
                    upsert=True,
                )
            )
        if operations:
            await self.writes.bulk_write(operations, ordered=False)

    async def adelete_thread(self, thread_id: str) -> None:
        self.unprime(thread_id)
        self._warm.pop(str(thread_id), None)
        await self.redis.delete(settled_key(str(thread_id)))
        await self.checkpoints.delete_many({"thread_id": str(thread_id)})
        await self.writes.delete_many({"thread_id": str(thread_id)})

    def get_next_version(self, current: str | None, channel: None) -> str:
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(str(current).split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"
