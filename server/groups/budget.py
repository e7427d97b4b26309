"""The token-request auto-approval budget and the open-request cap (issue 15, F1).

A request is paid at once only while the member's auto-approved total this month stays
within their budget (default `auto_approve_budget`; 0 for the kind's `no_budget_roles`;
admins set it per member), never from a frozen wallet; at most `max_open_requests` wait
per member. Everything is decided inside the payout transaction: `claim_member` writes
the member's document first, so two concurrent requests of one member conflict and run
one after the other, and `reserve` is a compare-and-set on the month's counter.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from server.core.db import Tx
from server.core.errors import Conflict, NotFound
from server.groups.config import GroupConfig
from server.groups.documents import AutoApprovalCounter, GroupRequest, Membership, period_of
from server.groups.kinds import GroupKind


class RequestBudget:
    """Decides, inside a transaction, whether a token request is paid at once."""

    def __init__(self, kind: GroupKind, config: GroupConfig, now: Callable[[], datetime]):
        self.kind = kind
        self.config = config
        self.now = now

    def budget_of(self, member: Membership) -> int:
        """The member's monthly auto-approval budget (their own or their role's default)."""
        if member.auto_approve_budget is not None:
            return member.auto_approve_budget
        if member.role in self.kind.no_budget_roles:
            return 0
        return self.config.auto_approve_budget

    async def prepare(self, group_id: Any, user_id: Any) -> None:
        """Create this month's counter outside the transaction (an upsert inside one would
        make concurrent first requests collide on the unique index)."""
        await AutoApprovalCounter.get_pymongo_collection().update_one(
            {"group_id": group_id, "user_id": user_id, "period": period_of(self.now())},
            {"$setOnInsert": {"approved": 0}},
            upsert=True,
        )

    async def claim_member(self, tx: Tx, group_id: Any, user_id: Any) -> Membership:
        """The member, re-read and written in `tx` (serialises one member's requests)."""
        raw = await Membership.get_pymongo_collection().find_one_and_update(
            {"group_kind": self.kind.name, "group_id": group_id, "user_id": user_id},
            {"$inc": {"request_seq": 1}},
            session=tx.session,
            return_document=ReturnDocument.AFTER,
        )
        if raw is None:
            code = f"{self.kind.name.upper()}_NOT_FOUND"
            raise NotFound(f"No such {self.kind.label}.", code=code)
        return Membership.model_validate(raw)

    async def check_open(self, tx: Tx, group_id: Any, user_id: Any) -> None:
        """409 `TOO_MANY_OPEN_REQUESTS` when the member already has the cap waiting."""
        waiting = await GroupRequest.get_pymongo_collection().count_documents(
            {"group_id": group_id, "requester_id": user_id, "status": "pending"},
            session=tx.session,
        )
        if waiting >= self.config.max_open_requests:
            raise Conflict(
                f"You already have {waiting} open requests; wait for an answer first.",
                code="TOO_MANY_OPEN_REQUESTS",
                details=[{"message": f"at most {self.config.max_open_requests} open"}],
            )

    async def reserve(self, tx: Tx, member: Membership, amount: int) -> bool:
        """Count `amount` against the member's budget this month; False if it would not fit."""
        budget = self.budget_of(member)
        if amount > budget:
            return False
        raw = await AutoApprovalCounter.get_pymongo_collection().find_one_and_update(
            {
                "group_id": member.group_id,
                "user_id": member.user_id,
                "period": period_of(self.now()),
                "approved": {"$lte": budget - amount},
            },
            {"$inc": {"approved": amount}},
            session=tx.session,
        )
        return raw is not None

    async def used(self, group_id: Any) -> dict[ObjectId, int]:
        """Auto-approved tokens this month per member of the group."""
        period = period_of(self.now())
        return {
            d["user_id"]: d["approved"]
            async for d in AutoApprovalCounter.get_pymongo_collection().find(
                {"group_id": group_id, "period": period}
            )
        }

    def remaining(self, member: Membership, used: int) -> int:
        """What the member may still be paid at once this month."""
        return max(0, self.budget_of(member) - used)
