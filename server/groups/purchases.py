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
from server.groups.documents import UNLIMITED, GroupDocument, GroupRequest
from server.groups.requests import RequestsMixin, request_view
from server.groups.schemas import DecisionRequest, RequestView


class PurchasesMixin(RequestsMixin):
    async def _may_pay_now(self, group: GroupDocument, member: Any, price: int) -> bool:
        if not member.can_spend:
            return False
        if member.per_transaction_limit != UNLIMITED and price > member.per_transaction_limit:
            return False
        if member.monthly_limit == UNLIMITED:
            return True
        spent = (await self._period_spent(group.id)).get(member.user_id, 0)
        return spent + price <= member.monthly_limit

    async def shop_payer(self, intent: Any) -> Any:
        """The shop's payer for this kind: a `Payment` now, or a `Deferred` request."""
        from server.shop.manager import Deferred, Payment

        self.require_write(intent.actor)
        group, member = await self.load(intent.actor, intent.group_id)
        if group.frozen:
            raise self._frozen()
        account = await self._account(group)
        if await self._may_pay_now(group, member, intent.price):
            await self._ensure_spend_counter(group.id, member.user_id)

            async def reserve(tx: Tx) -> None:
                await self._reserve(group.id, member, intent.price, tx.session)

            return Payment(account_id=account.id, reserve=reserve)
        req = await self._purchase_request(intent.actor, group, member, intent)
        return Deferred(
            detail={
                "requestId": str(req.id),
                "groupKind": self.kind.name,
                "groupId": str(group.id),
                "amount": req.amount,
            }
        )

    async def _purchase_request(
        self, actor: Actor, group: GroupDocument, member: Any, intent: Any
    ) -> GroupRequest:
        now = self.now()
        item = intent.item
        label = f"{item.name} ({'rental' if intent.rent else 'purchase'})"
        req = GroupRequest(
            group_kind=self.kind.name,
            group_id=group.id,  # type: ignore[arg-type]
            kind="purchase",
            requester_id=member.user_id,
            amount=intent.price,
            reason=f"Shop: {label}",
            purchase={"itemId": str(item.id), "itemName": item.name, "rent": intent.rent},
            created_at=now,
            expires_at=now + timedelta(seconds=self.config.request_ttl_seconds),
        )
        await self._insert_request(req)
        admins = [a for a in await self.admin_ids(group.id) if a != actor.user_id]  # type: ignore[arg-type]
        await self.notify(
            admins,
            "purchase_request.created",
            f"{actor.username} would like {label} for {intent.price} tokens.",
            {"groupKind": self.kind.name, "groupId": str(group.id), "requestId": str(req.id)},
        )
        return req

    async def _approve_purchase(
        self, actor: Actor, group: GroupDocument, req: GroupRequest, cmd: DecisionRequest
    ) -> RequestView:
        from server.shop.manager import Payment

        if not req.purchase:
            raise Conflict("The shop is not available.", code="SHOP_UNAVAILABLE")
        account = await self._account(group)
        decided: dict[str, Any] = {}

        async def claim(tx: Tx) -> None:
            session = tx.session
            raw = await GroupRequest.get_pymongo_collection().find_one_and_update(
                self._decide_filter(req),
                {
                    "$set": {
                        "status": "approved",
                        "decided_by": actor.user_id,
                        "decided_at": self.now(),
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
            payment=Payment(account_id=account.id, reserve=claim),
            idempotency_key=f"{self.kind.name}:purchase:{req.id}",
        )
        transfer_id = response.purchase.transfer_id
        done = await self._decided(
            {"_id": req.id}, {"$set": {"transfer_id": transfer_id}}, "approved"
        )
        if done is None:  # the request vanished after it was paid (its group was deleted)
            done = await self._group_request(group, req.id)
        await self.notify(
            [done.requester_id],
            "purchase_request.approved",
            f"Your purchase of {req.purchase.get('itemName', 'an item')} was approved.",
            {"groupKind": self.kind.name, "groupId": str(group.id), "requestId": str(done.id)},
        )
        return request_view(done)
