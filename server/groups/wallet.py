"""The group wallet on the ledger: the account, spending rules and spends, freeze and
emergency unfreeze.

Balances are never touched here: every token moves through the ledger's `move`, inside one
transaction with the rule it enforces (the monthly spend counter), so a rule and its payment
commit or fail together.
"""

from __future__ import annotations

from typing import Any

import msgspec
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from server.core.actor import Actor
from server.core.db import Tx
from server.core.errors import Conflict, Forbidden, NotFound
from server.core.ids import stored_id
from server.core.wire import validate
from server.groups.base import period_of
from server.groups.documents import (
    UNLIMITED,
    GroupDocument,
    Membership,
    QuorumVote,
    SpendCounter,
)
from server.groups.events import (
    GroupChanged,
    GroupSpent,
    PermissionsChanged,
)
from server.groups.schemas import (
    FreezeRequest,
    GroupSpendRequest,
    GroupWalletView,
    MemberPermissionView,
    SpendResult,
    VoteCast,
    VoteOpen,
    VoteView,
    WalletPermissionsUpdate,
)
from server.groups.votes import VotesMixin, vote_view
from server.wallet.errors import WalletFrozen
from server.wallet.idempotency import check_key
from server.wallet.movement import Movement, check_amount
from server.wallet.schemas import Party, TransferPage


class WalletMixin(VotesMixin):
    # ------------------------------------------------------------------ the account

    async def _open_wallet(self, group: GroupDocument, session: AsyncClientSession) -> None:
        account = await self.ledger.open_account(
            self.kind.name, stored_id(group.id), session=session
        )
        group.account_id = str(account.id)
        await self.document.get_pymongo_collection().update_one(
            {"_id": group.id}, {"$set": {"account_id": group.account_id}}, session=session
        )

    async def _account(
        self, group: GroupDocument, session: AsyncClientSession | None = None
    ) -> Any:
        gid = stored_id(group.id)
        account = await self.ledger.account_for(self.kind.name, gid, session=session)
        if account is None:
            account = await self.ledger.open_account(self.kind.name, gid, session=session)
        return account

    def _frozen(self) -> WalletFrozen:
        return WalletFrozen(f"The {self.kind.label} wallet is frozen.")

    async def wallet(self, actor: Actor, group_id: Any) -> GroupWalletView:
        self.require_read(actor)
        group, _ = await self.load(actor, group_id)
        account = await self._account(group)
        members = await self.members_of(group.id)  # type: ignore[arg-type]
        names = await self.usernames(m.user_id for m in members)
        spent = await self._period_spent(group.id)
        auto_used = await self.budget.used(group.id)
        return GroupWalletView(
            group_id=str(group.id),
            account_id=str(account.id),
            balance=account.balance,
            frozen=group.frozen,
            frozen_reason=group.frozen_reason,
            period=period_of(self.now()),
            members=[
                self._permission_view(
                    m,
                    names.get(m.user_id, ""),
                    spent.get(m.user_id, 0),
                    auto_used.get(m.user_id, 0),
                )
                for m in members
            ],
        )

    async def set_permissions(
        self, actor: Actor, group_id: Any, user_id: Any, cmd: WalletPermissionsUpdate
    ) -> MemberPermissionView:
        cmd = validate(cmd)
        self.require_write(actor)
        group, _ = await self.load_admin(actor, group_id)
        target = await self._target(group, user_id)
        changes: dict[str, Any] = {
            "can_spend": cmd.can_spend,
            "per_transaction_limit": cmd.per_transaction_limit,
            "monthly_limit": cmd.monthly_limit,
        }
        if cmd.auto_approve_budget is not msgspec.UNSET:
            changes["auto_approve_budget"] = cmd.auto_approve_budget
        raw = await Membership.get_pymongo_collection().find_one_and_update(
            {"_id": target.id}, {"$set": changes}, return_document=ReturnDocument.AFTER
        )
        if raw is None:
            raise NotFound("That user is not a member.", code="MEMBER_NOT_FOUND")
        member = Membership.model_validate(raw)
        name = (await self.usernames([member.user_id])).get(member.user_id, "")
        spent = (await self._period_spent(group.id)).get(member.user_id, 0)
        auto_used = (await self.budget.used(group.id)).get(member.user_id, 0)
        view = self._permission_view(member, name, spent, auto_used)
        event = PermissionsChanged(group_kind=self.kind.name, group_id=str(group.id), member=view)
        await self.publish_group(group.id, self.etype("permissions_changed"), event)
        return view

    async def list_transfers(
        self, actor: Actor, group_id: Any, *, limit: int = 50, cursor: str | None = None
    ) -> TransferPage:
        self.require_read(actor)
        group, _ = await self.load(actor, group_id)
        account = await self._account(group)
        return await self.wallet_manager.account_transfers(account.id, limit=limit, cursor=cursor)

    # ------------------------------------------------------------------ freeze

    async def _set_frozen(
        self,
        group: GroupDocument,
        actor_id: Any,
        frozen: bool,
        reason: str | None,
        tx: Tx,
    ) -> GroupDocument | None:
        """Set the group's and its account's freeze in `tx`; `wallet.frozen`/`unfrozen` and
        `<kind>.updated` go out once it commits. `None` if it already was so."""
        session = tx.session
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
            await self.ledger.freeze_account(tx, account.id, reason=reason or "")
        else:
            await self.ledger.unfreeze_account(tx, account.id)
        updated = self.document.model_validate(raw)
        self.queue_group(tx, group.id, self.etype("updated"), GroupChanged(self.info(updated)))
        return updated

    async def freeze(self, actor: Actor, group_id: Any, cmd: FreezeRequest) -> GroupWalletView:
        cmd = validate(cmd)
        self.require_write(actor)
        group, _ = await self.load_admin(actor, group_id)

        async def work(tx: Tx) -> GroupDocument | None:
            return await self._set_frozen(group, actor.user_id, True, cmd.reason.strip(), tx)

        updated = await self.ledger.run(work)
        if updated is None:
            raise Conflict(
                f"The {self.kind.label} wallet is already frozen.", code="ALREADY_FROZEN"
            )
        await self.notify(
            [u for u in await self.member_ids(group.id) if u != actor.user_id],  # type: ignore[arg-type]
            "wallet.frozen",
            f"The {group.name} wallet was frozen: {cmd.reason.strip()}",
            {"groupKind": self.kind.name, "groupId": str(group.id)},
        )
        return await self.wallet(actor, group_id)

    async def unfreeze(self, actor: Actor, group_id: Any) -> GroupWalletView:
        self.require_write(actor)
        group, _ = await self.load_admin(actor, group_id)

        async def work(tx: Tx) -> GroupDocument | None:
            return await self._set_frozen(group, actor.user_id, False, None, tx)

        updated = await self.ledger.run(work)
        if updated is None:
            raise Conflict(f"The {self.kind.label} wallet is not frozen.", code="NOT_FROZEN")
        await self.notify(
            [u for u in await self.member_ids(group.id) if u != actor.user_id],  # type: ignore[arg-type]
            "wallet.unfrozen",
            f"The {group.name} wallet was unfrozen.",
            {"groupKind": self.kind.name, "groupId": str(group.id)},
        )
        return await self.wallet(actor, group_id)

    # ------------------------------------------------------------------ emergency unfreeze

    async def open_emergency_unfreeze(self, actor: Actor, group_id: Any, cmd: VoteOpen) -> VoteView:
        cmd = validate(cmd)
        self.require_write(actor)
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
        cmd = validate(cmd)
        self.require_write(actor)
        group, member = await self.load(actor, group_id)
        return await self.cast_vote(group, member, vote_id, "emergency_unfreeze", cmd.approve)

    async def _on_vote_approved(self, group: GroupDocument, vote: QuorumVote, tx: Tx) -> None:
        if vote.purpose == "emergency_unfreeze":
            await self._set_frozen(group, vote.opened_by, False, None, tx)
        else:
            await super()._on_vote_approved(group, vote, tx)

    async def _after_vote_approved(self, group: GroupDocument, vote: QuorumVote) -> None:
        if vote.purpose == "emergency_unfreeze":
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

    async def _member_in(self, tx: Tx, member: Membership) -> Membership:
        """The membership as of `tx`; 403 `SPEND_NOT_ALLOWED` if it is gone."""
        raw = await Membership.get_pymongo_collection().find_one(
            {"_id": member.id}, session=tx.session
        )
        if raw is None:
            raise Forbidden(
                f"You may not spend from the {self.kind.label} wallet.", code="SPEND_NOT_ALLOWED"
            )
        return Membership.model_validate(raw)

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
        cmd = validate(cmd)
        check_amount(cmd.amount)
        self.require_transfer(actor)
        group, member = await self.load(actor, group_id)
        key = check_key(idempotency_key)
        outcome = await self.wallet_manager.idempotency.run(
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
        amount = check_amount(cmd.amount)
        if group.frozen:
            raise self._frozen()
        self._check_may_spend(member, amount)
        await self._require_verified(actor)
        target = await self.wallet_manager.resolve_party(
            Party(username=cmd.to.username, account_id=cmd.to.account_id)
        )
        source = await self._account(group)
        await self._ensure_spend_counter(group.id, member.user_id)
        movement = Movement(
            from_account=source.id,
            to_account=stored_id(target.id),
            amount=amount,
            kind="transfer",
            idempotency_key=f"{self.kind.name}:spend:{rec.record_id}",
            actor_id=actor.user_id,
            memo=cmd.memo or None,
        )

        async def work(tx: Tx) -> SpendResult:
            # The permission is read again inside the transaction: an admin's change that
            # committed after the check above still bites (issue 15).
            fresh = await self._member_in(tx, member)
            self._check_may_spend(fresh, amount)
            spent = await self._reserve(group.id, fresh, amount, tx.session)
            moved = await self.ledger.move(tx, movement)
            result = SpendResult(
                transfer_id=str(moved.transfer.id),
                amount=amount,
                balance=moved.transfer.from_balance_after,
            )
            await rec.save(tx.session, result)
            event = GroupSpent(
                group_kind=self.kind.name,
                group_id=str(group.id),
                spender_id=str(actor.user_id),
                amount=amount,
                transfer_id=result.transfer_id,
                balance=result.balance,
                period_spent=spent,
            )
            self.queue_group(tx, group.id, self.etype("wallet_spent"), event)
            return result

        return await self.ledger.run(work)
