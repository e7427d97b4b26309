"""The group wallet on the ledger: spending rules, spends, token requests, freeze,
emergency unfreeze, and the payout when a group is deleted.

Balances are never touched here: every token moves through `WalletManager.move`, often
inside one transaction with the rule it enforces (the monthly spend counter, the request's
compare-and-set on `pending`), so a rule and its payment commit or fail together.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from auth.actor import Actor
from auth.documents import User
from server.errors import Conflict, Forbidden, NotFound, Unprocessable
from server.groups.base import as_utc, period_of
from server.groups.documents import (
    UNLIMITED,
    GroupDocument,
    GroupRequest,
    Invitation,
    Membership,
    QuorumVote,
    SpendCounter,
)
from server.groups.events import (
    DeletionPayout,
    GroupChanged,
    GroupSpent,
    MemberRemoved,
    PermissionsChanged,
    RequestChanged,
)
from server.groups.schemas import (
    DecisionRequest,
    FreezeRequest,
    GroupSpendRequest,
    GroupWalletView,
    MemberPermissionView,
    RequestView,
    SpendResult,
    TokenRequestCreate,
    VoteCast,
    VoteOpen,
    VoteView,
    WalletPermissionsUpdate,
)
from server.groups.votes import VotesMixin, vote_view
from server.wallet.errors import WalletFrozen
from server.wallet.idempotency import check_key
from server.wallet.ledger import Movement
from server.wallet.schemas import Party, TransferPage


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


class WalletMixin(VotesMixin):
    # ------------------------------------------------------------------ the account

    async def _open_wallet(self, group: GroupDocument, session: AsyncClientSession) -> None:
        account = await self.ledger.open_account(self.kind.name, group.id, session=session)
        group.account_id = str(account.id)
        await self.document.get_pymongo_collection().update_one(
            {"_id": group.id}, {"$set": {"account_id": group.account_id}}, session=session
        )

    async def _account(
        self, group: GroupDocument, session: AsyncClientSession | None = None
    ) -> Any:
        account = await self.ledger.account_for(self.kind.name, group.id, session=session)
        if account is None:
            account = await self.ledger.open_account(self.kind.name, group.id, session=session)
        return account

    async def _require_verified(self, actor: Actor) -> None:
        if not getattr(self.ledger, "require_verified_email", False):
            return
        doc = await User.get_pymongo_collection().find_one(
            {"_id": actor.user_id}, {"email_verified": 1}
        )
        if doc is None or not doc.get("email_verified"):
            raise Forbidden(
                "Verify your e-mail address before moving tokens.", code="EMAIL_NOT_VERIFIED"
            )

    def _frozen(self) -> WalletFrozen:
        return WalletFrozen(f"The {self.kind.label} wallet is frozen.")

    async def wallet(self, actor: Actor, group_id: Any) -> GroupWalletView:
        group, _ = await self.load(actor, group_id)
        account = await self._account(group)
        members = await self.members_of(group.id)  # type: ignore[arg-type]
        names = await self.usernames(m.user_id for m in members)
        spent = await self._period_spent(group.id)
        return GroupWalletView(
            group_id=str(group.id),
            account_id=str(account.id),
            balance=account.balance,
            frozen=group.frozen,
            frozen_reason=group.frozen_reason,
            period=period_of(self.now()),
            members=[
                self._permission_view(m, names.get(m.user_id, ""), spent.get(m.user_id, 0))
                for m in members
            ],
        )

    async def set_permissions(
        self, actor: Actor, group_id: Any, user_id: Any, cmd: WalletPermissionsUpdate
    ) -> MemberPermissionView:
        group, _ = await self.load_admin(actor, group_id)
        target = await self._target(group, user_id)
        raw = await Membership.get_pymongo_collection().find_one_and_update(
            {"_id": target.id},
            {
                "$set": {
                    "can_spend": cmd.can_spend,
                    "per_transaction_limit": cmd.per_transaction_limit,
                    "monthly_limit": cmd.monthly_limit,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if raw is None:
            raise NotFound("That user is not a member.", code="MEMBER_NOT_FOUND")
        member = Membership.model_validate(raw)
        name = (await self.usernames([member.user_id])).get(member.user_id, "")
        spent = (await self._period_spent(group.id)).get(member.user_id, 0)
        view = self._permission_view(member, name, spent)
        event = PermissionsChanged(group_kind=self.kind.name, group_id=str(group.id), member=view)
        await self.publish_group(group.id, self.etype("permissions_changed"), event)
        return view

    async def list_transfers(
        self, actor: Actor, group_id: Any, *, limit: int = 50, cursor: str | None = None
    ) -> TransferPage:
        group, _ = await self.load(actor, group_id)
        account = await self._account(group)
        return await self.ledger.account_transfers(account.id, limit=limit, cursor=cursor)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ freeze

    async def _set_frozen(
        self,
        group: GroupDocument,
        actor_id: Any,
        frozen: bool,
        reason: str | None,
        session: AsyncClientSession,
    ) -> GroupDocument | None:
        raw = await self.document.get_pymongo_collection().find_one_and_update(
            {"_id": group.id, "deleted_at": None, "frozen": not frozen},
            {
                "$set": {
                    "frozen": frozen,
                    "frozen_reason": reason if frozen else None,
                    "frozen_by": actor_id if frozen else None,
                    "frozen_at": self.now() if frozen else None,
                    "updated_at": self.now(),
                }
            },
            session=session,
            return_document=ReturnDocument.AFTER,
        )
        if raw is None:
            return None
        account = await self._account(group, session)
        if frozen:
            await self.ledger.freeze_account(account.id, reason=reason or "", session=session)
        else:
            await self.ledger.unfreeze_account(account.id, session=session)
        return self.document.model_validate(raw)

    async def _publish_frozen(self, group: GroupDocument) -> None:
        account = await self._account(group)
        await self.ledger.publish_frozen(account)
        await self.publish_group(group.id, self.etype("updated"), GroupChanged(self.info(group)))

    async def freeze(self, actor: Actor, group_id: Any, cmd: FreezeRequest) -> GroupWalletView:
        group, _ = await self.load_admin(actor, group_id)

        async def work(session: AsyncClientSession) -> GroupDocument | None:
            return await self._set_frozen(group, actor.user_id, True, cmd.reason.strip(), session)

        updated = await self.ledger.transaction(work)
        if updated is None:
            raise Conflict(
                f"The {self.kind.label} wallet is already frozen.", code="ALREADY_FROZEN"
            )
        await self._publish_frozen(updated)
        await self.notify(
            [u for u in await self.member_ids(group.id) if u != actor.user_id],  # type: ignore[arg-type]
            "wallet.frozen",
            f"The {group.name} wallet was frozen: {cmd.reason.strip()}",
            {"groupKind": self.kind.name, "groupId": str(group.id)},
        )
        return await self.wallet(actor, group_id)

    async def unfreeze(self, actor: Actor, group_id: Any) -> GroupWalletView:
        group, _ = await self.load_admin(actor, group_id)

        async def work(session: AsyncClientSession) -> GroupDocument | None:
            return await self._set_frozen(group, actor.user_id, False, None, session)

        updated = await self.ledger.transaction(work)
        if updated is None:
            raise Conflict(f"The {self.kind.label} wallet is not frozen.", code="NOT_FROZEN")
        await self._publish_frozen(updated)
        await self.notify(
            [u for u in await self.member_ids(group.id) if u != actor.user_id],  # type: ignore[arg-type]
            "wallet.unfrozen",
            f"The {group.name} wallet was unfrozen.",
            {"groupKind": self.kind.name, "groupId": str(group.id)},
        )
        return await self.wallet(actor, group_id)

    # ------------------------------------------------------------------ emergency unfreeze

    async def open_emergency_unfreeze(self, actor: Actor, group_id: Any, cmd: VoteOpen) -> VoteView:
        group, member = await self.load(actor, group_id)
        if not group.frozen:
            raise Conflict(f"The {self.kind.label} wallet is not frozen.", code="NOT_FROZEN")
        vote = await self.open_vote(
            group,
            member,
            "emergency_unfreeze",
            cmd.reason.strip(),
            self.config.emergency_unfreeze_window_seconds,
        )
        return vote_view(vote)

    async def vote_emergency_unfreeze(
        self, actor: Actor, group_id: Any, vote_id: Any, cmd: VoteCast
    ) -> VoteView:
        group, member = await self.load(actor, group_id)
        return await self.cast_vote(group, member, vote_id, "emergency_unfreeze", cmd.approve)

    async def _on_vote_approved(
        self, group: GroupDocument, vote: QuorumVote, session: AsyncClientSession
    ) -> None:
        if vote.purpose == "emergency_unfreeze":
            await self._set_frozen(group, vote.opened_by, False, None, session)
        else:
            await super()._on_vote_approved(group, vote, session)

    async def _after_vote_approved(self, group: GroupDocument, vote: QuorumVote) -> None:
        if vote.purpose == "emergency_unfreeze":
            fresh = await self.find_group(group.id)
            if fresh is not None:
                await self._publish_frozen(fresh)
            await self.notify(
                await self.member_ids(group.id),  # type: ignore[arg-type]
                "wallet.unfrozen",
                f"The {group.name} wallet was unfrozen by an emergency vote.",
                {"groupKind": self.kind.name, "groupId": str(group.id)},
            )
        else:
            await super()._after_vote_approved(group, vote)

    # ------------------------------------------------------------------ spending

    def _check_may_spend(self, member: Membership, amount: int) -> None:
        if not member.can_spend:
            raise Forbidden(
                f"You may not spend from the {self.kind.label} wallet.", code="SPEND_NOT_ALLOWED"
            )
        if member.per_transaction_limit != UNLIMITED and amount > member.per_transaction_limit:
            raise Forbidden(
                f"The amount is over your limit of {member.per_transaction_limit} per transaction.",
                code="PER_TRANSACTION_LIMIT",
            )

    async def _reserve(
        self, group_id: Any, member: Membership, amount: int, session: AsyncClientSession
    ) -> int:
        """Count `amount` against this month's limit (compare-and-set); the new period total."""
        period = period_of(self.now())
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

    async def _ensure_spend_counter(self, group_id: Any, user_id: Any) -> None:
        await SpendCounter.get_pymongo_collection().update_one(
            {"group_id": group_id, "user_id": user_id, "period": period_of(self.now())},
            {"$setOnInsert": {"spent": 0}},
            upsert=True,
        )

    async def spend(
        self, actor: Actor, group_id: Any, cmd: GroupSpendRequest, *, idempotency_key: str | None
    ) -> tuple[SpendResult, bool]:
        """Pay from the group wallet within the spender's rules; (result, replayed)."""
        group, member = await self.load(actor, group_id)
        key = check_key(idempotency_key)
        outcome = await self.ledger.idempotency.run(
            scope=f"{self.kind.name}.spend",
            actor_id=actor.user_id,
            key=key,
            params={"groupId": str(group.id), "cmd": cmd},
            result_type=SpendResult,
            operation=lambda rec: self._spend(actor, group, member, cmd, rec),
        )
        return outcome.value, outcome.replayed

    async def _spend(
        self,
        actor: Actor,
        group: GroupDocument,
        member: Membership,
        cmd: GroupSpendRequest,
        rec: Any,
    ) -> SpendResult:
        if group.frozen:
            raise self._frozen()
        self._check_may_spend(member, cmd.amount)
        await self._require_verified(actor)
        target = await self.ledger.resolve_party(
            Party(username=cmd.to.username, account_id=cmd.to.account_id)
        )
        source = await self._account(group)
        await self._ensure_spend_counter(group.id, member.user_id)
        movement = Movement(
            from_account=source.id,
            to_account=target.id,
            amount=cmd.amount,
            kind="transfer",
            idempotency_key=f"{self.kind.name}:spend:{rec.record_id}",
            actor_id=actor.user_id,
            memo=cmd.memo or None,
        )

        async def work(session: AsyncClientSession) -> tuple[Any, SpendResult, int]:
            spent = await self._reserve(group.id, member, cmd.amount, session)
            moved = await self.ledger.move(movement, session=session)
            result = SpendResult(
                transfer_id=str(moved.transfer.id),
                amount=cmd.amount,
                balance=moved.transfer.from_balance_after,
            )
            await rec.save(session, result)
            return moved, result, spent

        moved, result, spent = await self.ledger.transaction(work)
        await self.ledger.publish_moved(moved)
        event = GroupSpent(
            group_kind=self.kind.name,
            group_id=str(group.id),
            spender_id=str(actor.user_id),
            amount=cmd.amount,
            transfer_id=result.transfer_id,
            balance=result.balance,
            period_spent=spent,
        )
        await self.publish_group(group.id, self.etype("wallet_spent"), event)
        return result

    # ------------------------------------------------------------------ token requests

    def _request_noun(self, r: GroupRequest) -> str:
        return "purchase_request" if r.kind == "purchase" else "token_request"

    async def _publish_request(self, r: GroupRequest, verb: str) -> None:
        event = RequestChanged(group_kind=self.kind.name, request=request_view(r))
        type_ = f"{self._request_noun(r)}.{verb}"
        await self.publish_group(r.group_id, type_, event)
        await self.publish_users([r.requester_id], type_, event)

    async def create_token_request(
        self, actor: Actor, group_id: Any, cmd: TokenRequestCreate
    ) -> RequestView:
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
            amount=cmd.amount,
            reason=reason,
            created_at=now,
            expires_at=now + timedelta(seconds=self.config.request_ttl_seconds),
        )
        if cmd.amount <= self.config.auto_approve_threshold:
            return await self._auto_approve(group, req)
        await req.insert()
        await self._publish_request(req, "created")
        admins = [a for a in await self.admin_ids(group.id) if a != actor.user_id]  # type: ignore[arg-type]
        await self.notify(
            admins,
            "token_request.created",
            f"{actor.username} asks for {cmd.amount} tokens: {reason}",
            {"groupKind": self.kind.name, "groupId": str(group.id), "requestId": str(req.id)},
        )
        return request_view(req)

    async def _auto_approve(self, group: GroupDocument, req: GroupRequest) -> RequestView:
        source = await self._account(group)
        target = await self.ledger.user_account(req.requester_id)
        req.id = ObjectId()  # type: ignore[assignment]
        req.status, req.auto_approved, req.decided_at = "approved", True, self.now()

        async def work(session: AsyncClientSession) -> Any:
            moved = await self.ledger.move(self._payout(req, source.id, target.id), session=session)
            req.transfer_id = str(moved.transfer.id)
            await req.insert(session=session)
            return moved

        moved = await self.ledger.transaction(work)
        await self.ledger.publish_moved(moved)
        await self._publish_request(req, "approved")
        return request_view(req)

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
        group, _ = await self.load_admin(actor, group_id)
        req = await self._group_request(group, request_id)
        await self._check_pending(req)
        if group.frozen:
            raise self._frozen()
        if req.kind == "purchase":
            return await self._approve_purchase(actor, group, req, cmd)
        source = await self._account(group)
        target = await self.ledger.user_account(req.requester_id)
        req.decided_by = actor.user_id  # type: ignore[assignment]

        async def work(session: AsyncClientSession) -> tuple[Any, dict[str, Any]]:
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
            moved = await self.ledger.move(self._payout(req, source.id, target.id), session=session)
            await GroupRequest.get_pymongo_collection().update_one(
                {"_id": req.id}, {"$set": {"transfer_id": str(moved.transfer.id)}}, session=session
            )
            raw["transfer_id"] = str(moved.transfer.id)
            return moved, raw

        try:
            moved, raw = await self.ledger.transaction(work)
        except DuplicateKeyError:
            raise Conflict("This request was already paid.", code="REQUEST_NOT_PENDING") from None
        await self.ledger.publish_moved(moved)
        done = GroupRequest.model_validate(raw)
        await self._publish_request(done, "approved")
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
        group, _ = await self.load_admin(actor, group_id)
        req = await self._group_request(group, request_id)
        await self._check_pending(req)
        raw = await GroupRequest.get_pymongo_collection().find_one_and_update(
            self._decide_filter(req),
            {
                "$set": {
                    "status": "denied",
                    "decided_by": actor.user_id,
                    "decided_at": self.now(),
                    "comment": cmd.comment,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if raw is None:
            raise Conflict("This request was already decided.", code="REQUEST_NOT_PENDING")
        done = GroupRequest.model_validate(raw)
        await self._publish_request(done, "denied")
        await self.notify(
            [done.requester_id],
            f"{self._request_noun(done)}.denied",
            f"Your request for {done.amount} tokens from {group.name} was denied.",
            {"groupKind": self.kind.name, "groupId": str(group.id), "requestId": str(done.id)},
        )
        return request_view(done)

    async def _expire_request(self, req: GroupRequest) -> bool:
        raw = await GroupRequest.get_pymongo_collection().find_one_and_update(
            {"_id": req.id, "status": "pending"},
            {"$set": {"status": "expired", "decided_at": self.now()}},
            return_document=ReturnDocument.AFTER,
        )
        if raw is None:
            return False
        await self._publish_request(GroupRequest.model_validate(raw), "expired")
        return True

    async def expire_requests(self, *, group_id: Any = None, limit: int = 500) -> int:
        query: dict[str, Any] = {
            "group_kind": self.kind.name,
            "status": "pending",
            "expires_at": {"$lte": self.now()},
        }
        if group_id is not None:
            query["group_id"] = group_id
        raws = await GroupRequest.get_pymongo_collection().find(query).to_list(limit)
        count = 0
        for raw in raws:
            if await self._expire_request(GroupRequest.model_validate(raw)):
                count += 1
        return count

    # ------------------------------------------------------------------ deletion

    def _may_delete(self, member: Membership) -> bool:
        return self.kind.is_admin(member.role)

    async def delete(self, actor: Actor, group_id: Any) -> None:
        """Pay the balance back to the admins in equal shares (the remainder to the one
        deleting), close the wallet, end every membership, invitation, request and vote."""
        group, member = await self.load(actor, group_id)
        if not self._may_delete(member):
            raise Forbidden(
                f"Only the {'owner' if self.kind.owner_role else 'admins'} may delete this "
                f"{self.kind.label}.",
                code="DELETE_NOT_ALLOWED",
            )
        members = await self.members_of(group.id)  # type: ignore[arg-type]
        admins = [m.user_id for m in members if self.kind.is_admin(m.role)]
        source = await self._account(group)
        targets = {uid: await self.ledger.user_account(uid) for uid in admins}
        payouts: dict[str, int] = {}

        async def work(session: AsyncClientSession) -> list[Any]:
            raw = await self.document.get_pymongo_collection().find_one_and_update(
                {"_id": group.id, "deleted_at": None},
                {"$set": {"deleted_at": self.now(), "frozen": True, "updated_at": self.now()}},
                session=session,
            )
            if raw is None:
                raise self.not_found()
            account = await self.ledger.get_account(source.id, session=session)
            if account.frozen:
                await self.ledger.unfreeze_account(account.id, session=session)
            balance = account.balance
            share, rest = divmod(balance, len(admins))
            moves = []
            payouts.clear()
            for uid in admins:
                amount = share + (rest if uid == actor.user_id else 0)
                if amount <= 0:
                    continue
                payouts[str(uid)] = amount
                moves.append(
                    await self.ledger.move(
                        Movement(
                            from_account=source.id,
                            to_account=targets[uid].id,
                            amount=amount,
                            kind="payout",
                            idempotency_key=f"{self.kind.name}:delete:{group.id}:{uid}",
                            actor_id=actor.user_id,
                            memo=f"{self.kind.label} {group.name} deleted",
                            correlation_id=f"{self.kind.name}-delete:{group.id}",
                        ),
                        session=session,
                    )
                )
            await self.ledger.close_account(source.id, session=session)
            await Membership.get_pymongo_collection().delete_many(
                {"group_kind": self.kind.name, "group_id": group.id}, session=session
            )
            for m in members:
                await self._release_slot(m.user_id, session)
            await Invitation.get_pymongo_collection().update_many(
                {"group_id": group.id, "status": "pending"},
                {"$set": {"status": "cancelled", "responded_at": self.now()}},
                session=session,
            )
            await GroupRequest.get_pymongo_collection().update_many(
                {"group_id": group.id, "status": "pending"},
                {"$set": {"status": "denied", "decided_at": self.now(), "comment": "deleted"}},
                session=session,
            )
            return moves

        moves = await self.ledger.transaction(work)
        for moved in moves:
            await self.ledger.publish_moved(moved)
        # Votes left open are closed after the commit (their unique key frees itself).
        async for raw in QuorumVote.get_pymongo_collection().find(
            {"group_id": group.id, "status": "open"}
        ):
            await self._expire_vote(QuorumVote.model_validate(raw))
        group.deleted_at = self.now()
        info = GroupChanged(self.info(group))
        await self.publish_group(
            group.id,
            self.etype("deletion_payout"),
            DeletionPayout(group_kind=self.kind.name, group_id=str(group.id), payouts=payouts),
        )
        await self.publish_group(group.id, self.etype("deleted"), info)
        for m in members:
            event = MemberRemoved(
                group_id=str(group.id), user_id=str(m.user_id), reason="deleted", member_count=0
            )
            await self.publish_users([m.user_id], self.etype("member_removed"), event)
        await self.notify(
            [m.user_id for m in members if m.user_id != actor.user_id],
            self.etype("deleted"),
            f"{group.name} was deleted by {actor.username}.",
            {"groupId": str(group.id), "payouts": payouts},
        )
