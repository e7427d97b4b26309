"""Group requests (tokens or a shop purchase) as stored records: find, decide by
compare-and-set on `pending`, expire; every change publishes `<noun>.<verb>` on commit.
Token requests and group purchases both build on it."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from server.core.db import Tx
from server.core.errors import Conflict, NotFound
from server.groups.core import GroupCore, as_utc
from server.groups.documents import GroupDocument, GroupRequest
from server.groups.events import RequestChanged
from server.groups.schemas import RequestView


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


class RequestStore:
    def __init__(self, core: GroupCore) -> None:
        self.core = core

    def noun(self, r: GroupRequest) -> str:
        return "purchase_request" if r.kind == "purchase" else "token_request"

    def queue(self, tx: Tx, r: GroupRequest, verb: str) -> None:
        """`<noun>.<verb>` to the group and the requester once `tx` commits."""
        event = RequestChanged(group_kind=self.core.kind.name, request=request_view(r))
        type_ = f"{self.noun(r)}.{verb}"
        self.core.queue_group(tx, r.group_id, type_, event)
        self.core.queue_users(tx, [r.requester_id], type_, event)

    async def insert(self, req: GroupRequest) -> None:
        """Store a new request; `<noun>.created` goes out with the commit."""

        async def work(tx: Tx) -> None:
            await req.insert(session=tx.session)
            self.queue(tx, req, "created")

        await self.core.transaction(work)

    async def decided(
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
            self.queue(tx, done, verb)
            return done

        return await self.core.transaction(work)

    async def find(self, group: GroupDocument, request_id: Any) -> GroupRequest:
        rid = self.core.oid(request_id)
        raw = (
            await GroupRequest.get_pymongo_collection().find_one(
                {"_id": rid, "group_id": group.id, "group_kind": self.core.kind.name}
            )
            if rid
            else None
        )
        if raw is None:
            raise NotFound("No such request.", code="REQUEST_NOT_FOUND")
        return GroupRequest.model_validate(raw)

    async def check_pending(self, req: GroupRequest) -> None:
        if req.status != "pending":
            raise Conflict("This request was already decided.", code="REQUEST_NOT_PENDING")
        if as_utc(req.expires_at) <= self.core.now():
            await self.expire(req)
            raise Conflict("This request has expired.", code="REQUEST_EXPIRED")

    def decide_filter(self, req: GroupRequest) -> dict[str, Any]:
        return {"_id": req.id, "status": "pending", "expires_at": {"$gt": self.core.now()}}

    async def expire(self, req: GroupRequest) -> bool:
        expired = await self.decided(
            {"_id": req.id, "status": "pending"},
            {"$set": {"status": "expired", "decided_at": self.core.now()}},
            "expired",
        )
        if expired is None:
            return False
        await self.core.notify(
            [expired.requester_id],
            f"{self.noun(expired)}.expired",
            f"Your request for {expired.amount} tokens expired without an answer.",
            {
                "groupKind": self.core.kind.name,
                "groupId": str(expired.group_id),
                "requestId": str(expired.id),
            },
        )
        return True

    async def expire_all(self, *, group_id: ObjectId | None = None, limit: int = 500) -> int:
        """Mark pending token/purchase requests past their time `expired`, with events."""
        return await self.core.expire_due(GroupRequest, self.expire, group_id=group_id, limit=limit)
