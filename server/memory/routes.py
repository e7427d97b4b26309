"""HTTP routes of memories: thin; the manager holds every rule."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import Provide

from server.core.actor import Actor
from server.core.paging import DEFAULT_LIMIT, Cursor, Limit, page_slice
from server.memory.manager import MemoryManager
from server.memory.schemas import MemoryCreate, MemoryPage, MemoryUpdate, MemoryView


def provide_memories(state: State) -> MemoryManager:
    return state["services"].memories


class MemoryController(Controller):
    path = "/api/v1/memories"
    tags = ["memories"]
    dependencies = {"memories": Provide(provide_memories, sync_to_thread=False)}

    @get("/", summary="My memories, newest change first, each with its history")
    async def list_memories(
        self,
        actor: Actor,
        memories: MemoryManager,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> MemoryPage:
        items, next_cursor = page_slice(await memories.list(actor), limit=limit, cursor=cursor)
        return MemoryPage(items=items, next_cursor=next_cursor)

    @post("/", summary="Remember something")
    async def create_memory(
        self, actor: Actor, memories: MemoryManager, data: MemoryCreate
    ) -> MemoryView:
        return await memories.create(actor, data)

    @patch("/{memory_id:str}", summary="Change a memory (the old text stays in its history)")
    async def update_memory(
        self, actor: Actor, memories: MemoryManager, memory_id: str, data: MemoryUpdate
    ) -> MemoryView:
        return await memories.update(actor, memory_id, data)

    @delete("/{memory_id:str}", summary="Forget a memory (only the user, never an agent)")
    async def delete_memory(self, actor: Actor, memories: MemoryManager, memory_id: str) -> None:
        await memories.delete(actor, memory_id)
