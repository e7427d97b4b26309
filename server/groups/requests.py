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
from server.core.errors import Conflict, NotFound, Unprocessable
from server.core.wire import validate
from server.groups.base import as_utc
from server.groups.documents import (
    GroupDocument,
    GroupRequest,
)
from server.groups.events import (
    RequestChanged,
)
from server.groups.schemas import (
    DecisionRequest,
    RequestView,
    TokenRequestCreate,
)
from server.groups.wallet import WalletMixin
from server.wallet.movement import Movement, check_amount


def request_view(r: GroupRequest) -> RequestView:
    return RequestView(
        id=str(r.id),
        group_id=str(r.group_id),
        kind=r.kind,
        requester_id=str(r.requester_id),
        amount=r.amount,
        reason=r.reason,
        status=r.status,
        auto_approved=r.auto_approved,
        created_at=r.created_at,
        expires_at=r.expires_at,
        decided_by=str(r.decided_by) if r.decided_by else None,
        decided_at=r.decided_at,
        comment=r.comment,
        transfer_id=r.transfer_id,
        purchase=r.purchase,
    )


class RequestsMixin(WalletMixin):
    # ------------------------------------------------------------------ token requests

    def _request_noun(self, r: GroupRequest) -> str:
        return "purchase_request" if r.kind == "purchase" else "token_request"

    def _queue_request(self, tx: Tx, r: GroupRequest, verb: str) -> None:
        """`<noun>.<verb>` to the group and the requester once `tx` commits."""
        event = RequestChanged(group_kind=self.kind.name, request=request_view(r))
        type_ = f"{self._request_noun(r)}.{verb}"
        self.queue_group(tx, r.group_id, type_, event)
        self.queue_users(tx, [r.requester_id], type_, event)

    async def _insert_request(self, req: GroupRequest) -> None:
        """Store a new request; `<noun>.created` goes out with the commit."""

        async def work(tx: Tx) -> None:
            await req.insert(session=tx.session)
            self._queue_request(tx, req, "created")

        await self.transaction(work)

    async def _decided(
        self, filter_: dict[str, Any], update: dict[str, Any], verb: str
    ) -> GroupRequest | None:
        """Compare-and-set a request's decision; `<noun>.<verb>` goes out with the commit."""

        async def work(tx: Tx) -> GroupRequest | None:
            raw = await GroupRequest.get_pymongo_collection().find_one_and_update(
                filter_, update, session=tx.session, return_document=ReturnDocument.AFTER
            )
            if raw is None:
                return None
            done = GroupRequest.model_validate(raw)
            self._queue_request(tx, done, verb)
            return done

        return await self.transaction(work)

    async def create_token_request(
        self, actor: Actor, group_id: Any, cmd: TokenRequestCreate
    ) -> RequestView:
        """Ask the group wallet for tokens. Paid at once within the member's monthly
        auto-approval budget (F1: decided in the payout transaction), else pending for an
        admin; 409 `TOO_MANY_OPEN_REQUESTS` past the open-request cap."""
        cmd = validate(cmd)
        amount = check_amount(cmd.amount)
        self.require_write(actor)
        group, member = await self.load(actor, group_id)
        if group.frozen:
            raise self._frozen()
        reason = cmd.reason.strip()
        if len(reason) < 5:
            raise Unprocessable(
                "The reason needs at least 5 characters.",
                details=[{"field": "reason", "message": "at least 5 characters"}],
            )
        now = self.now()
        req = GroupRequest(
            group_kind=self.kind.name,
            group_id=group.id,  # type: ignore[arg-type]
            kind="tokens",
            requester_id=member.user_id,
            amount=amount,
            reason=reason,
            created_at=now,
            expires_at=now + timedelta(seconds=self.config.request_ttl_seconds),
        )
        req.id = ObjectId()  # type: ignore[assignment]
        source = await self._account(group)
        target = await self.wallet_manager.user_account(req.requester_id)
        await self.budget.prepare(group.id, member.user_id)

        async def work(tx: Tx) -> GroupRequest:
            claimed = await self.budget.claim_member(tx, group.id, member.user_id)
            fresh = await self.document.get_pymongo_collection().find_one(
                {"_id": group.id}, {"frozen": 1}, session=tx.session
            )
            if fresh is None or fresh.get("frozen"):
                raise self._frozen()
            done = req.model_copy()
            if await self.budget.reserve(tx, claimed, amount):
                done.status, done.auto_approved, done.decided_at = "approved", True, self.now()
                moved = await self.ledger.move(tx, self._payout(done, source.id, target.id))
                done.transfer_id = str(moved.transfer.id)
                await done.insert(session=tx.session)
                self._queue_request(tx, done, "approved")
                return done
            await self.budget.check_open(tx, group.id, member.user_id)
            await done.insert(session=tx.session)
            self._queue_request(tx, done, "created")
            return done

        done = await self.ledger.run(work)
        if done.auto_approved:
            return request_view(done)
        admins = [a for a in await self.admin_ids(group.id) if a != actor.user_id]  # type: ignore[arg-type]
        await self.notify(
            admins,
            "token_request.created",
            f"{actor.username} asks for {amount} tokens: {reason}",
            {"groupKind": self.kind.name, "groupId": str(group.id), "requestId": str(done.id)},
        )
        return request_view(done)

    def _payout(self, req: GroupRequest, source: Any, target: Any) -> Movement:
        return Movement(
            from_account=source,
            to_account=target,
            amount=req.amount,
            kind="request_payout",
            idempotency_key=f"{self.kind.name}:request:{req.id}",
            actor_id=req.decided_by or req.requester_id,
            memo=req.reason[:200],
            correlation_id=f"request:{req.id}",
        )

    async def list_requests(
        self, actor: Actor, group_id: Any, status: str | None = None
    ) -> list[RequestView]:
        self.require_read(actor)
        group, member = await self.load(actor, group_id)
        await self.expire_requests(group_id=group.id)
        query: dict[str, Any] = {"group_kind": self.kind.name, "group_id": group.id}
        if status:
            query["status"] = status
        if not self.kind.is_admin(member.role):
            query["requester_id"] = member.user_id
        raws = await GroupRequest.get_pymongo_collection().find(query).sort("_id", -1).to_list(500)
        return [request_view(GroupRequest.model_validate(r)) for r in raws]

    async def _group_request(self, group: GroupDocument, request_id: Any) -> GroupRequest:
        rid = self.oid(request_id)
        raw = (
            await GroupRequest.get_pymongo_collection().find_one(
                {"_id": rid, "group_id": group.id, "group_kind": self.kind.name}
            )
            if rid
            else None
        )
        if raw is None:
            raise NotFound("No such request.", code="REQUEST_NOT_FOUND")
        return GroupRequest.model_validate(raw)

    async def _check_pending(self, req: GroupRequest) -> None:
        if req.status != "pending":
            raise Conflict("This request was already decided.", code="REQUEST_NOT_PENDING")
        if as_utc(req.expires_at) <= self.now():
            await self._expire_request(req)
            raise Conflict("This request has expired.", code="REQUEST_EXPIRED")

    def _decide_filter(self, req: GroupRequest) -> dict[str, Any]:
        return {"_id": req.id, "status": "pending", "expires_at": {"$gt": self.now()}}

    async def approve_request(
        self, actor: Actor, group_id: Any, request_id: Any, cmd: DecisionRequest
    ) -> RequestView:
        cmd = validate(cmd)
        self.require_transfer(actor)
        group, _ = await self.load_admin(actor, group_id)
        req = await self._group_request(group, request_id)
        await self._check_pending(req)
        if group.frozen:
            raise self._frozen()
        if req.kind == "purchase":
            return await self._approve_purchase(actor, group, req, cmd)
        source = await self._account(group)
        target = await self.wallet_manager.user_account(req.requester_id)
        req.decided_by = actor.user_id  # type: ignore[assignment]

        async def work(tx: Tx) -> GroupRequest:
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
                return_document=ReturnDocument.AFTER,
            )
            if raw is None:
                raise Conflict("This request was already decided.", code="REQUEST_NOT_PENDING")
            moved = await self.ledger.move(tx, self._payout(req, source.id, target.id))
            await GroupRequest.get_pymongo_collection().update_one(
                {"_id": req.id}, {"$set": {"transfer_id": str(moved.transfer.id)}}, session=session
            )
            raw["transfer_id"] = str(moved.transfer.id)
            done = GroupRequest.model_validate(raw)
            self._queue_request(tx, done, "approved")
            return done

        try:
            done = await self.ledger.run(work)
        except DuplicateKeyError:
            raise Conflict("This request was already paid.", code="REQUEST_NOT_PENDING") from None
        await self.notify(
            [done.requester_id],
            "token_request.approved",
            f"Your request for {done.amount} tokens from {group.name} was approved.",
            {"groupKind": self.kind.name, "groupId": str(group.id), "requestId": str(done.id)},
        )
        return request_view(done)

    async def _approve_purchase(
        self, actor: Actor, group: GroupDocument, req: GroupRequest, cmd: DecisionRequest
    ) -> RequestView:
        raise Conflict("Purchase requests are not available yet.", code="NOT_SUPPORTED")

    async def deny_request(
        self, actor: Actor, group_id: Any, request_id: Any, cmd: DecisionRequest
    ) -> RequestView:
        cmd = validate(cmd)
        self.require_write(actor)
        group, _ = await self.load_admin(actor, group_id)
        req = await self._group_request(group, request_id)
        await self._check_pending(req)
        done = await self._decided(
            self._decide_filter(req),
            {
                "$set": {
                    "status": "denied",
                    "decided_by": actor.user_id,
                    "decided_at": self.now(),
                    "comment": cmd.comment,
                }
            },
            "denied",
        )
        if done is None:
            raise Conflict("This request was already decided.", code="REQUEST_NOT_PENDING")
        await self.notify(
            [done.requester_id],
            f"{self._request_noun(done)}.denied",
            f"Your request for {done.amount} tokens from {group.name} was denied.",
            {"groupKind": self.kind.name, "groupId": str(group.id), "requestId": str(done.id)},
        )
        return request_view(done)

    async def _expire_request(self, req: GroupRequest) -> bool:
        expired = await self._decided(
            {"_id": req.id, "status": "pending"},
            {"$set": {"status": "expired", "decided_at": self.now()}},
            "expired",
        )
        if expired is None:
            return False
        await self.notify(
            [expired.requester_id],
            f"{self._request_noun(expired)}.expired",
            f"Your request for {expired.amount} tokens expired without an answer.",
            {
                "groupKind": self.kind.name,
                "groupId": str(expired.group_id),
                "requestId": str(expired.id),
            },
        )
        return True

    async def expire_requests(self, *, group_id: Any = None, limit: int = 500) -> int:
        """Mark pending token/purchase requests past their time `expired`, with events."""
        return await self.expire_due(
            GroupRequest, self._expire_request, group_id=group_id, limit=limit
        )
