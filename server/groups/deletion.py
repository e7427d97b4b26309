"""Deleting a group: the balance is paid back to the admins in equal shares (the remainder to
the one deleting), then the wallet closes and every membership, invitation, request and
vote ends."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from server.core.actor import Actor
from server.core.errors import Forbidden
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
from server.groups.purchases import PurchasesMixin
from server.wallet.ledger import Movement


class DeletionMixin(PurchasesMixin):
    # ------------------------------------------------------------------ deletion

    def _may_delete(self, member: Membership) -> bool:
        return self.kind.is_admin(member.role)

    async def delete(self, actor: Actor, group_id: Any) -> None:
        """Pay the balance back to the admins in equal shares (the remainder to the one
        deleting), close the wallet, end every membership, invitation, request and vote."""
        self.require_write(actor)
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
