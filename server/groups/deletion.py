"""Deleting a group: the balance is paid back to the admins in equal shares (the remainder to
the one deleting), then the wallet closes and every membership, invitation, request and
vote ends."""

from __future__ import annotations

from typing import Any

from server.core.actor import Actor
from server.core.db import Tx
from server.core.errors import Forbidden
from server.core.ids import stored_id
from server.groups.accounts import GroupAccounts
from server.groups.core import GroupCore
from server.groups.documents import (
    GroupRequest,
    Invitation,
    Membership,
    QuorumVote,
)
from server.groups.events import (
    DeletionPayout,
    GroupChanged,
    MemberRemoved,
)
from server.groups.hooks import KindRules
from server.groups.slots import MembershipSlots
from server.groups.votes import Votes
from server.wallet.ledger import Ledger
from server.wallet.manager import WalletManager
from server.wallet.movement import Movement


class GroupDeletion:
    """Deleting a group of one kind; who may do it is the kind's rule (`KindRules`)."""

    def __init__(
        self,
        core: GroupCore,
        accounts: GroupAccounts,
        slots: MembershipSlots,
        votes: Votes,
        rules: KindRules,
        ledger: Ledger,
        wallet: WalletManager,
    ) -> None:
        self.core = core
        self.accounts = accounts
        self.slots = slots
        self.votes = votes
        self.rules = rules
        self.ledger = ledger
        self.wallet_manager = wallet

    async def delete(self, actor: Actor, group_id: Any) -> None:
        """Pay the balance back to the admins in equal shares (the remainder to the one
        deleting), close the wallet, end every membership, invitation, request and vote."""
        self.core.require_write(actor)
        group, member = await self.core.load(actor, group_id)
        if not self.rules.may_delete(member):
            raise Forbidden(
                f"Only the {'owner' if self.core.kind.owner_role else 'admins'} may delete this "
                f"{self.core.kind.label}.",
                code="DELETE_NOT_ALLOWED",
            )
        members = await self.core.members_of(group.id)  # type: ignore[arg-type]
        admins = [m.user_id for m in members if self.core.kind.is_admin(m.role)]
        source = await self.accounts.of(group)
        targets = {uid: await self.wallet_manager.user_account(uid) for uid in admins}
        payouts: dict[str, int] = {}

        async def expire_open_votes() -> None:
            # Votes left open are closed after the commit (their unique key frees itself).
            async for raw in QuorumVote.get_pymongo_collection().find(
                {"group_id": group.id, "status": "open"}
            ):
                await self.votes.expire_vote(QuorumVote.model_validate(raw))

        async def work(tx: Tx) -> None:
            session = tx.session
            raw = await self.core.document.get_pymongo_collection().find_one_and_update(
                {"_id": group.id, "deleted_at": None},
                {
                    "$set": {
                        "deleted_at": self.core.now(),
                        "frozen": True,
                        "updated_at": self.core.now(),
                    }
                },
                session=session,
            )
            if raw is None:
                raise self.core.not_found()
            account = await self.ledger.get_account(stored_id(source.id), session=session)
            if account is None:
                raise self.core.not_found()
            if account.frozen:
                await self.ledger.unfreeze_account(tx, stored_id(source.id), announce=False)
            balance = account.balance
            share, rest = divmod(balance, len(admins))
            payouts.clear()
            for uid in admins:
                amount = share + (rest if uid == actor.user_id else 0)
                if amount <= 0:
                    continue
                payouts[str(uid)] = amount
                await self.ledger.move(
                    tx,
                    Movement(
                        from_account=stored_id(source.id),
                        to_account=stored_id(targets[uid].id),
                        amount=amount,
                        kind="payout",
                        idempotency_key=f"{self.core.kind.name}:delete:{group.id}:{uid}",
                        actor_id=actor.user_id,
                        memo=f"{self.core.kind.label} {group.name} deleted",
                        correlation_id=f"{self.core.kind.name}-delete:{group.id}",
                    ),
                )
            await self.ledger.close_account(tx, stored_id(source.id))
            await Membership.get_pymongo_collection().delete_many(
                {"group_kind": self.core.kind.name, "group_id": group.id}, session=session
            )
            for m in members:
                await self.slots.release(m.user_id, session)
            await Invitation.get_pymongo_collection().update_many(
                {"group_id": group.id, "status": "pending"},
                {"$set": {"status": "cancelled", "responded_at": self.core.now()}},
                session=session,
            )
            await GroupRequest.get_pymongo_collection().update_many(
                {"group_id": group.id, "status": "pending"},
                {"$set": {"status": "denied", "decided_at": self.core.now(), "comment": "deleted"}},
                session=session,
            )
            tx.after_commit(expire_open_votes)
            group.deleted_at = self.core.now()
            self.core.queue_group(
                tx,
                group.id,
                self.core.etype("deletion_payout"),
                DeletionPayout(
                    group_kind=self.core.kind.name, group_id=str(group.id), payouts=payouts
                ),
            )
            self.core.queue_group(
                tx, group.id, self.core.etype("deleted"), GroupChanged(self.core.info(group))
            )
            for m in members:
                event = MemberRemoved(
                    group_id=str(group.id), user_id=str(m.user_id), reason="deleted", member_count=0
                )
                self.core.queue_users(tx, [m.user_id], self.core.etype("member_removed"), event)

        await self.ledger.run(work)
        await self.core.notify(
            [m.user_id for m in members if m.user_id != actor.user_id],
            self.core.etype("deleted"),
            f"{group.name} was deleted by {actor.username}.",
            {"groupId": str(group.id), "payouts": payouts},
        )
