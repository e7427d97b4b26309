"""The group wallet on the ledger: balance and permissions, spends, freeze and emergency
unfreeze.

Balances are never touched here: every token moves through the ledger's `move`, inside one
transaction with the rule it enforces (the monthly spend counter), so a rule and its payment
commit or fail together.
"""

from __future__ import annotations

from typing import Any

import msgspec
from pymongo import ReturnDocument

from server.core.actor import Actor
from server.core.db import Tx
from server.core.errors import Conflict, NotFound
from server.core.ids import stored_id
from server.core.wire import validate
from server.groups.accounts import GroupAccounts
from server.groups.core import GroupCore
from server.groups.documents import GroupDocument, Membership, QuorumVote, period_of
from server.groups.events import (
    GroupChanged,
    GroupSpent,
    PermissionsChanged,
)
from server.groups.limits import SpendLimits
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
from server.groups.votes import Votes, vote_view
from server.wallet.idempotency import Recorder, check_key
from server.wallet.ledger import Ledger
from server.wallet.manager import WalletManager
from server.wallet.movement import Movement, check_amount
from server.wallet.schemas import Party, TransferPage


class GroupWallet:
    """The group wallet: balance and permissions, spends, freeze; registers the emergency
    unfreeze as the decision of an approved `emergency_unfreeze` vote."""

    def __init__(
        self,
        core: GroupCore,
        accounts: GroupAccounts,
        limits: SpendLimits,
        votes: Votes,
        ledger: Ledger,
        wallet: WalletManager,
    ) -> None:
        self.core = core
        self.accounts = accounts
        self.limits = limits
        self.votes = votes
        self.ledger = ledger
        self.wallet_manager = wallet
        votes.decide_with("emergency_unfreeze", EmergencyUnfreeze(self))

    async def wallet(self, actor: Actor, group_id: Any) -> GroupWalletView:
        self.core.require_read(actor)
        group, _ = await self.core.load(actor, group_id)
        account = await self.accounts.of(group)
        members = await self.core.members_of(group.id)  # type: ignore[arg-type]
        names = await self.core.usernames(m.user_id for m in members)
        spent = await self.core.period_spent(group.id)
        auto_used = await self.core.budget.used(group.id)
        return GroupWalletView(
            group_id=str(group.id),
            account_id=str(account.id),
            balance=account.balance,
            frozen=group.frozen,
            frozen_reason=group.frozen_reason,
            period=period_of(self.core.now()),
            members=[
                self.core.permission_view(
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
        self.core.require_write(actor)
        group, _ = await self.core.load_admin(actor, group_id)
        target = await self.core.target(group, user_id)
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
        name = (await self.core.usernames([member.user_id])).get(member.user_id, "")
        spent = (await self.core.period_spent(group.id)).get(member.user_id, 0)
        auto_used = (await self.core.budget.used(group.id)).get(member.user_id, 0)
        view = self.core.permission_view(member, name, spent, auto_used)
        event = PermissionsChanged(
            group_kind=self.core.kind.name, group_id=str(group.id), member=view
        )
        await self.core.publish_group(group.id, self.core.etype("permissions_changed"), event)
        return view

    async def list_transfers(
        self, actor: Actor, group_id: Any, *, limit: int = 50, cursor: str | None = None
    ) -> TransferPage:
        self.core.require_read(actor)
        group, _ = await self.core.load(actor, group_id)
        account = await self.accounts.of(group)
        return await self.wallet_manager.account_transfers(
            stored_id(account.id), limit=limit, cursor=cursor
        )

    # ------------------------------------------------------------------ freeze

    async def set_frozen(
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
        raw = await self.core.document.get_pymongo_collection().find_one_and_update(
            {"_id": group.id, "deleted_at": None, "frozen": not frozen},
            {
                "$set": {
                    "frozen": frozen,
                    "frozen_reason": reason if frozen else None,
                    "frozen_by": actor_id if frozen else None,
                    "frozen_at": self.core.now() if frozen else None,
                    "updated_at": self.core.now(),
                }
            },
            session=session,
            return_document=ReturnDocument.AFTER,
        )
        if raw is None:
            return None
        account = await self.accounts.of(group, session)
        if frozen:
            await self.ledger.freeze_account(tx, stored_id(account.id), reason=reason or "")
        else:
            await self.ledger.unfreeze_account(tx, stored_id(account.id))
        updated = self.core.document.model_validate(raw)
        self.core.queue_group(
            tx, group.id, self.core.etype("updated"), GroupChanged(self.core.info(updated))
        )
        return updated

    async def freeze(self, actor: Actor, group_id: Any, cmd: FreezeRequest) -> GroupWalletView:
        cmd = validate(cmd)
        self.core.require_write(actor)
        group, _ = await self.core.load_admin(actor, group_id)

        async def work(tx: Tx) -> GroupDocument | None:
            return await self.set_frozen(group, actor.user_id, True, cmd.reason.strip(), tx)

        updated = await self.ledger.run(work)
        if updated is None:
            raise Conflict(
                f"The {self.core.kind.label} wallet is already frozen.", code="ALREADY_FROZEN"
            )
        await self.core.notify(
            [u for u in await self.core.member_ids(group.id) if u != actor.user_id],  # type: ignore[arg-type]
            "wallet.frozen",
            f"The {group.name} wallet was frozen: {cmd.reason.strip()}",
            {"groupKind": self.core.kind.name, "groupId": str(group.id)},
        )
        return await self.wallet(actor, group_id)

    async def unfreeze(self, actor: Actor, group_id: Any) -> GroupWalletView:
        self.core.require_write(actor)
        group, _ = await self.core.load_admin(actor, group_id)

        async def work(tx: Tx) -> GroupDocument | None:
            return await self.set_frozen(group, actor.user_id, False, None, tx)

        updated = await self.ledger.run(work)
        if updated is None:
            raise Conflict(f"The {self.core.kind.label} wallet is not frozen.", code="NOT_FROZEN")
        await self.core.notify(
            [u for u in await self.core.member_ids(group.id) if u != actor.user_id],  # type: ignore[arg-type]
            "wallet.unfrozen",
            f"The {group.name} wallet was unfrozen.",
            {"groupKind": self.core.kind.name, "groupId": str(group.id)},
        )
        return await self.wallet(actor, group_id)

    # ------------------------------------------------------------------ emergency unfreeze

    async def open_emergency_unfreeze(self, actor: Actor, group_id: Any, cmd: VoteOpen) -> VoteView:
        cmd = validate(cmd)
        self.core.require_write(actor)
        group, member = await self.core.load(actor, group_id)
        if not group.frozen:
            raise Conflict(f"The {self.core.kind.label} wallet is not frozen.", code="NOT_FROZEN")
        vote = await self.votes.open_vote(
            group,
            member,
            "emergency_unfreeze",
            cmd.reason.strip(),
            self.core.config.emergency_unfreeze_window_seconds,
        )
        return vote_view(vote)

    async def vote_emergency_unfreeze(
        self, actor: Actor, group_id: Any, vote_id: Any, cmd: VoteCast
    ) -> VoteView:
        cmd = validate(cmd)
        self.core.require_write(actor)
        group, member = await self.core.load(actor, group_id)
        return await self.votes.cast_vote(group, member, vote_id, "emergency_unfreeze", cmd.approve)

    # ------------------------------------------------------------------ spending

    async def spend(
        self, actor: Actor, group_id: Any, cmd: GroupSpendRequest, *, idempotency_key: str | None
    ) -> tuple[SpendResult, bool]:
        """Pay from the group wallet within the spender's rules; (result, replayed)."""
        cmd = validate(cmd)
        check_amount(cmd.amount)
        self.core.require_transfer(actor)
        group, member = await self.core.load(actor, group_id)
        key = check_key(idempotency_key)
        outcome = await self.wallet_manager.idempotency.run(
            scope=f"{self.core.kind.name}.spend",
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
        rec: Recorder,
    ) -> SpendResult:
        amount = check_amount(cmd.amount)
        if group.frozen:
            raise self.accounts.frozen()
        self.limits.check_may_spend(member, amount)
        await self.wallet_manager.require_verified(actor)
        target = await self.wallet_manager.resolve_party(
            Party(username=cmd.to.username, account_id=cmd.to.account_id)
        )
        source = await self.accounts.of(group)
        await self.limits.ensure_counter(group.id, member.user_id)
        movement = Movement(
            from_account=stored_id(source.id),
            to_account=stored_id(target.id),
            amount=amount,
            kind="transfer",
            idempotency_key=f"{self.core.kind.name}:spend:{rec.record_id}",
            actor_id=actor.user_id,
            memo=cmd.memo or None,
        )

        async def work(tx: Tx) -> SpendResult:
            # The permission is read again inside the transaction: an admin's change that
            # committed after the check above still bites (issue 15).
            fresh = await self.limits.member_in(tx, member)
            self.limits.check_may_spend(fresh, amount)
            spent = await self.limits.reserve(group.id, fresh, amount, tx.session)
            moved = await self.ledger.move(tx, movement)
            result = SpendResult(
                transfer_id=str(moved.transfer.id),
                amount=amount,
                balance=moved.transfer.from_balance_after,
            )
            await rec.save(tx.session, result)
            event = GroupSpent(
                group_kind=self.core.kind.name,
                group_id=str(group.id),
                spender_id=str(actor.user_id),
                amount=amount,
                transfer_id=result.transfer_id,
                balance=result.balance,
                period_spent=spent,
            )
            self.core.queue_group(tx, group.id, self.core.etype("wallet_spent"), event)
            return result

        return await self.ledger.run(work)


class EmergencyUnfreeze:
    """An approved emergency-unfreeze vote unfreezes the wallet in the closing transaction."""

    def __init__(self, wallet: GroupWallet) -> None:
        self.wallet = wallet

    async def apply(self, group: GroupDocument, vote: QuorumVote, tx: Tx) -> None:
        await self.wallet.set_frozen(group, vote.opened_by, False, None, tx)

    async def announce(self, group: GroupDocument, vote: QuorumVote) -> None:
        core = self.wallet.core
        await core.notify(
            await core.member_ids(group.id),  # type: ignore[arg-type]
            "wallet.unfrozen",
            f"The {group.name} wallet was unfrozen by an emergency vote.",
            {"groupKind": core.kind.name, "groupId": str(group.id)},
        )
