"""Token requests and purchase requests to the group wallet: ask, auto-approve small ones,
approve or deny by compare-and-set on `pending` (the payout in the same transaction), expire.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from server.core.actor import Actor
from server.core.db import Tx
from server.core.errors import Conflict, Unprocessable
from server.core.ids import stored_id
from server.core.wire import validate
from server.groups.accounts import GroupAccounts
from server.groups.core import GroupCore
from server.groups.documents import GroupRequest
from server.groups.purchases import GroupPurchases
from server.groups.request_store import RequestStore, request_view
from server.groups.schemas import DecisionRequest, RequestView, TokenRequestCreate
from server.wallet.ledger import Ledger
from server.wallet.manager import WalletManager
from server.wallet.movement import Movement, check_amount


class TokenRequests:
    """Token requests to the group wallet; purchase requests are approved by
    `GroupPurchases` (the shop pays them)."""

    def __init__(
        self,
        core: GroupCore,
        store: RequestStore,
        accounts: GroupAccounts,
        purchases: GroupPurchases,
        ledger: Ledger,
        wallet: WalletManager,
    ) -> None:
        self.core = core
        self.store = store
        self.accounts = accounts
        self.purchases = purchases
        self.ledger = ledger
        self.wallet_manager = wallet

    async def create_token_request(
        self, actor: Actor, group_id: Any, cmd: TokenRequestCreate
    ) -> RequestView:
        """Ask the group wallet for tokens. Paid at once within the member's monthly
        auto-approval budget (F1: decided in the payout transaction), else pending for an
        admin; 409 `TOO_MANY_OPEN_REQUESTS` past the open-request cap."""
        cmd = validate(cmd)
        amount = check_amount(cmd.amount)
        self.core.require_write(actor)
        group, member = await self.core.load(actor, group_id)
        if group.frozen:
            raise self.accounts.frozen()
        reason = cmd.reason.strip()
        if len(reason) < 5:
            raise Unprocessable(
                "The reason needs at least 5 characters.",
                details=[{"field": "reason", "message": "at least 5 characters"}],
            )
        now = self.core.now()
        req = GroupRequest(
            group_kind=self.core.kind.name,
            group_id=group.id,
            kind="tokens",
            requester_id=member.user_id,
            amount=amount,
            reason=reason,
            created_at=now,
            expires_at=now + timedelta(seconds=self.core.config.request_ttl_seconds),
        )
        req.id = ObjectId()  # type: ignore[assignment]
        source = await self.accounts.of(group)
        target = await self.wallet_manager.user_account(req.requester_id)
        await self.core.budget.prepare(group.id, member.user_id)

        async def work(tx: Tx) -> GroupRequest:
            claimed = await self.core.budget.claim_member(tx, group.id, member.user_id)
            fresh = await self.core.document.get_pymongo_collection().find_one(
                {"_id": group.id}, {"frozen": 1}, session=tx.session
            )
            if fresh is None or fresh.get("frozen"):
                raise self.accounts.frozen()
            done = req.model_copy()
            if await self.core.budget.reserve(tx, claimed, amount):
                done.status, done.auto_approved, done.decided_at = "approved", True, self.core.now()
                moved = await self.ledger.move(
                    tx, self.payout(done, stored_id(source.id), stored_id(target.id))
                )
                done.transfer_id = str(moved.transfer.id)
                await done.insert(session=tx.session)
                self.store.queue(tx, done, "approved")
                return done
            await self.core.budget.check_open(tx, group.id, member.user_id)
            await done.insert(session=tx.session)
            self.store.queue(tx, done, "created")
            return done

        done = await self.ledger.run(work)
        if done.auto_approved:
            return request_view(done)
        admins = [a for a in await self.core.admin_ids(group.id) if a != actor.user_id]  # type: ignore[arg-type]
        await self.core.notify(
            admins,
            "token_request.created",
            f"{actor.username} asks for {amount} tokens: {reason}",
            {"groupKind": self.core.kind.name, "groupId": str(group.id), "requestId": str(done.id)},
        )
        return request_view(done)

    def payout(self, req: GroupRequest, source: ObjectId, target: ObjectId) -> Movement:
        return Movement(
            from_account=source,
            to_account=target,
            amount=req.amount,
            kind="request_payout",
            idempotency_key=f"{self.core.kind.name}:request:{req.id}",
            actor_id=req.decided_by or req.requester_id,
            memo=req.reason[:200],
            correlation_id=f"request:{req.id}",
        )

    async def list_requests(
        self, actor: Actor, group_id: Any, status: str | None = None
    ) -> list[RequestView]:
        self.core.require_read(actor)
        group, member = await self.core.load(actor, group_id)
        await self.store.expire_all(group_id=group.id)
        query: dict[str, Any] = {"group_kind": self.core.kind.name, "group_id": group.id}
        if status:
            query["status"] = status
        if not self.core.kind.is_admin(member.role):
            query["requester_id"] = member.user_id
        raws = await GroupRequest.get_pymongo_collection().find(query).sort("_id", -1).to_list(500)
        return [request_view(GroupRequest.model_validate(r)) for r in raws]

    async def approve_request(
        self, actor: Actor, group_id: Any, request_id: Any, cmd: DecisionRequest
    ) -> RequestView:
        cmd = validate(cmd)
        self.core.require_transfer(actor)
        group, _ = await self.core.load_admin(actor, group_id)
        req = await self.store.find(group, request_id)
        await self.store.check_pending(req)
        if group.frozen:
            raise self.accounts.frozen()
        if req.kind == "purchase":
            return await self.purchases.approve(actor, group, req, cmd)
        source = await self.accounts.of(group)
        target = await self.wallet_manager.user_account(req.requester_id)
        req.decided_by = actor.user_id  # type: ignore[assignment]

        async def work(tx: Tx) -> GroupRequest:
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
                return_document=ReturnDocument.AFTER,
            )
            if raw is None:
                raise Conflict("This request was already decided.", code="REQUEST_NOT_PENDING")
            moved = await self.ledger.move(
                tx, self.payout(req, stored_id(source.id), stored_id(target.id))
            )
            await GroupRequest.get_pymongo_collection().update_one(
                {"_id": req.id}, {"$set": {"transfer_id": str(moved.transfer.id)}}, session=session
            )
            raw["transfer_id"] = str(moved.transfer.id)
            done = GroupRequest.model_validate(raw)
            self.store.queue(tx, done, "approved")
            return done

        try:
            done = await self.ledger.run(work)
        except DuplicateKeyError:
            raise Conflict("This request was already paid.", code="REQUEST_NOT_PENDING") from None
        await self.core.notify(
            [done.requester_id],
            "token_request.approved",
            f"Your request for {done.amount} tokens from {group.name} was approved.",
            {"groupKind": self.core.kind.name, "groupId": str(group.id), "requestId": str(done.id)},
        )
        return request_view(done)

    async def deny_request(
        self, actor: Actor, group_id: Any, request_id: Any, cmd: DecisionRequest
    ) -> RequestView:
        cmd = validate(cmd)
        self.core.require_write(actor)
        group, _ = await self.core.load_admin(actor, group_id)
        req = await self.store.find(group, request_id)
        await self.store.check_pending(req)
        done = await self.store.decided(
            self.store.decide_filter(req),
            {
                "$set": {
                    "status": "denied",
                    "decided_by": actor.user_id,
                    "decided_at": self.core.now(),
                    "comment": cmd.comment,
                }
            },
            "denied",
        )
        if done is None:
            raise Conflict("This request was already decided.", code="REQUEST_NOT_PENDING")
        await self.core.notify(
            [done.requester_id],
            f"{self.store.noun(done)}.denied",
            f"Your request for {done.amount} tokens from {group.name} was denied.",
            {"groupKind": self.core.kind.name, "groupId": str(group.id), "requestId": str(done.id)},
        )
        return request_view(done)
