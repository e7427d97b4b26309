"""Shop purchases paid from a group wallet (`payWith: {familyId}` / `{workspaceId}`).

The shop asks the group's *payer* (registered by the wiring) to authorise a purchase:

- a member who may make it (can spend, within the per-transaction limit and this month's
  limit) pays at once; the monthly counter is reserved inside the purchase transaction;
- otherwise the purchase becomes a purchase request (the shop answers 202) that an admin
  approves (the shop then fulfils it from the group wallet, the request's compare-and-set
  on `pending` running inside the purchase transaction, so it is charged once) or denies.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from server.core.actor import Actor
from server.core.db import Tx
from server.core.errors import Conflict
from server.core.ids import stored_id
from server.groups.accounts import GroupAccounts
from server.groups.core import GroupCore
from server.groups.documents import GroupDocument, GroupRequest, Membership
from server.groups.limits import SpendLimits
from server.groups.request_store import RequestStore, request_view
from server.groups.schemas import DecisionRequest, RequestView
from server.shop.manager import Deferred, Payment, PurchaseIntent, ShopManager


class GroupPurchases:
    """The shop's payer for one group kind, and the approval of purchase requests."""

    def __init__(
        self,
        core: GroupCore,
        store: RequestStore,
        accounts: GroupAccounts,
        limits: SpendLimits,
        shop: ShopManager,
    ) -> None:
        self.core = core
        self.store = store
        self.accounts = accounts
        self.limits = limits
        self.shop = shop  # fulfils purchases that were waiting for an admin's approval

    async def shop_payer(self, intent: PurchaseIntent) -> Payment | Deferred:
        """The shop's payer for this kind: a `Payment` now, or a `Deferred` request."""
        self.core.require_write(intent.actor)
        group, member = await self.core.load(intent.actor, intent.group_id)
        if group.frozen:
            raise self.accounts.frozen()
        account = await self.accounts.of(group)
        if await self.limits.may_pay_now(group, member, intent.price):
            await self.limits.ensure_counter(group.id, member.user_id)

            async def reserve(tx: Tx) -> None:
                await self.limits.reserve(group.id, member, intent.price, tx.session)

            return Payment(account_id=stored_id(account.id), reserve=reserve)
        req = await self._purchase_request(intent.actor, group, member, intent)
        return Deferred(
            detail={
                "requestId": str(req.id),
                "groupKind": self.core.kind.name,
                "groupId": str(group.id),
                "amount": req.amount,
            }
        )

    async def _purchase_request(
        self, actor: Actor, group: GroupDocument, member: Membership, intent: PurchaseIntent
    ) -> GroupRequest:
        now = self.core.now()
        item = intent.item
        label = f"{item.name} ({'rental' if intent.rent else 'purchase'})"
        req = GroupRequest(
            group_kind=self.core.kind.name,
            group_id=group.id,
            kind="purchase",
            requester_id=member.user_id,
            amount=intent.price,
            reason=f"Shop: {label}",
            purchase={"itemId": str(item.id), "itemName": item.name, "rent": intent.rent},
            created_at=now,
            expires_at=now + timedelta(seconds=self.core.config.request_ttl_seconds),
        )
        await self.store.insert(req)
        admins = [a for a in await self.core.admin_ids(group.id) if a != actor.user_id]  # type: ignore[arg-type]
        await self.core.notify(
            admins,
            "purchase_request.created",
            f"{actor.username} would like {label} for {intent.price} tokens.",
            {"groupKind": self.core.kind.name, "groupId": str(group.id), "requestId": str(req.id)},
        )
        return req

    async def approve(
        self, actor: Actor, group: GroupDocument, req: GroupRequest, cmd: DecisionRequest
    ) -> RequestView:
        if not req.purchase:
            raise Conflict("The shop is not available.", code="SHOP_UNAVAILABLE")
        account = await self.accounts.of(group)
        decided: dict[str, Any] = {}

        async def claim(tx: Tx) -> None:
            session = tx.session
            raw = await GroupRequest.get_pymongo_collection().find_one_and_update(
                self.store.decide_filter(req),
                {
                    "$set": {
                        "status": "approved",
                        "decided_by": actor.user_id,
                        "decided_at": self.core.now(),
                        "comment": cmd.comment,
                    }
                },
                session=session,
            )
            if raw is None:
                raise Conflict("This request was already decided.", code="REQUEST_NOT_PENDING")
            decided.update(raw)

        response = await self.shop.fulfil(
            buyer_id=req.requester_id,
            actor_id=actor.user_id,
            item_id=req.purchase["itemId"],
            rent=bool(req.purchase.get("rent")),
            payment=Payment(account_id=stored_id(account.id), reserve=claim),
            idempotency_key=f"{self.core.kind.name}:purchase:{req.id}",
        )
        transfer_id = response.purchase.transfer_id
        done = await self.store.decided(
            {"_id": req.id}, {"$set": {"transfer_id": transfer_id}}, "approved"
        )
        if done is None:  # the request vanished after it was paid (its group was deleted)
            done = await self.store.find(group, req.id)
        await self.core.notify(
            [done.requester_id],
            "purchase_request.approved",
            f"Your purchase of {req.purchase.get('itemName', 'an item')} was approved.",
            {"groupKind": self.core.kind.name, "groupId": str(group.id), "requestId": str(done.id)},
        )
        return request_view(done)
