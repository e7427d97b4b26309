"""How many groups of a kind each user belongs to (the per-user limit), counted in the
transaction that adds or removes the membership."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from server.core.errors import Conflict
from server.groups.core import GroupCore
from server.groups.documents import MembershipCounter


class MembershipSlots:
    def __init__(self, core: GroupCore) -> None:
        self.core = core

    async def ensure(self, user_id: Any) -> None:
        """Create the user's counter outside the transaction (an upsert inside one would make
        concurrent first joins collide on the unique index)."""
        await MembershipCounter.get_pymongo_collection().update_one(
            {"user_id": user_id, "group_kind": self.core.kind.name},
            {"$setOnInsert": {"total": 0}},
            upsert=True,
        )

    async def take(self, user_id: Any, session: AsyncClientSession) -> None:
        """Count one more group for `user_id`, or refuse past the per-user limit."""
        kind = self.core.kind
        done = await MembershipCounter.get_pymongo_collection().update_one(
            {
                "user_id": user_id,
                "group_kind": kind.name,
                "total": {"$lt": kind.max_groups_per_user},
            },
            {"$inc": {"total": 1}},
            session=session,
        )
        if done.modified_count != 1:
            raise Conflict(
                f"You can belong to at most {kind.max_groups_per_user} {kind.label} groups.",
                code=f"{self.core.code}_LIMIT_REACHED",
            )

    async def release(self, user_id: Any, session: AsyncClientSession | None) -> None:
        await MembershipCounter.get_pymongo_collection().update_one(
            {"user_id": user_id, "group_kind": self.core.kind.name, "total": {"$gt": 0}},
            {"$inc": {"total": -1}},
            session=session,
        )
