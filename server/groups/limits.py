"""Who may spend from a group wallet: the member's permission, per-transaction limit and
monthly limit (a compare-and-set on the month's counter, inside the payment's transaction).
Shared by the wallet's spends and the shop's group purchases."""

from __future__ import annotations

from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from server.core.db import Tx
from server.core.errors import Forbidden
from server.groups.core import GroupCore
from server.groups.documents import (
    UNLIMITED,
    GroupDocument,
    Membership,
    SpendCounter,
    period_of,
)


class SpendLimits:
    def __init__(self, core: GroupCore) -> None:
        self.core = core

    def check_may_spend(self, member: Membership, amount: int) -> None:
        if not member.can_spend:
            raise Forbidden(
                f"You may not spend from the {self.core.kind.label} wallet.",
                code="SPEND_NOT_ALLOWED",
            )
        if member.per_transaction_limit != UNLIMITED and amount > member.per_transaction_limit:
            raise Forbidden(
                f"The amount is over your limit of {member.per_transaction_limit} per transaction.",
                code="PER_TRANSACTION_LIMIT",
            )

    async def member_in(self, tx: Tx, member: Membership) -> Membership:
        """The membership as of `tx`; 403 `SPEND_NOT_ALLOWED` if it is gone."""
        raw = await Membership.get_pymongo_collection().find_one(
            {"_id": member.id}, session=tx.session
        )
        if raw is None:
            raise Forbidden(
                f"You may not spend from the {self.core.kind.label} wallet.",
                code="SPEND_NOT_ALLOWED",
            )
        return Membership.model_validate(raw)

    async def reserve(
        self, group_id: Any, member: Membership, amount: int, session: AsyncClientSession
    ) -> int:
        """Count `amount` against this month's limit (compare-and-set); the new period total."""
        period = period_of(self.core.now())
        query: dict[str, Any] = {"group_id": group_id, "user_id": member.user_id, "period": period}
        if member.monthly_limit != UNLIMITED:
            query["spent"] = {"$lte": member.monthly_limit - amount}
        raw = await SpendCounter.get_pymongo_collection().find_one_and_update(
            query,
            {"$inc": {"spent": amount}},
            session=session,
            return_document=ReturnDocument.AFTER,
        )
        if raw is None:
            raise Forbidden(
                f"This would exceed your monthly limit of {member.monthly_limit}.",
                code="MONTHLY_LIMIT",
            )
        return int(raw["spent"])

    async def ensure_counter(self, group_id: Any, user_id: Any) -> None:
        await SpendCounter.get_pymongo_collection().update_one(
            {"group_id": group_id, "user_id": user_id, "period": period_of(self.core.now())},
            {"$setOnInsert": {"spent": 0}},
            upsert=True,
        )

    async def may_pay_now(self, group: GroupDocument, member: Membership, price: int) -> bool:
        if not member.can_spend:
            return False
        if member.per_transaction_limit != UNLIMITED and price > member.per_transaction_limit:
            return False
        if member.monthly_limit == UNLIMITED:
            return True
        spent = (await self.core.period_spent(group.id)).get(member.user_id, 0)
        return spent + price <= member.monthly_limit
