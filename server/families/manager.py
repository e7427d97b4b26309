"""Families: the shared `GroupManager` composed with `FamilyExtras` — relationships, backup
admins and recovery, and the family's `KindRules` (relationships follow joins and leaves)."""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from auth.documents import User
from server.core.actor import Actor
from server.core.db import Tx
from server.core.errors import Conflict, Unprocessable
from server.core.wire import validate
from server.families.documents import Relationship
from server.families.events import RelationshipChanged
from server.families.schemas import RELATIONS, RecoveryOpen, RelationshipSet, RelationshipView
from server.groups.core import GroupCore
from server.groups.documents import UNLIMITED, GroupDocument, Invitation, Membership, QuorumVote
from server.groups.manager import GroupManager
from server.groups.schemas import MemberView, RecoveryResult, VoteCast, VoteView
from server.groups.votes import Votes, vote_view


def pair_key(a: Any, b: Any) -> str:
    x, y = sorted((str(a), str(b)))
    return f"{x}:{y}"


class FamilyExtras:
    """What only families have; built on the family kind's core and votes."""

    def __init__(self, core: GroupCore, votes: Votes) -> None:
        self.core = core
        self.votes = votes
        votes.decide_with("recovery", Recovery(self))

    # ------------------------------------------------------------------ KindRules

    def may_delete(self, member: Membership) -> bool:
        return self.core.kind.is_admin(member.role)

    def check_relationship(self, relationship: str | None) -> str | None:
        relationship = (relationship or "other").strip().lower()
        if relationship not in RELATIONS:
            raise Unprocessable(
                f"Unknown relationship {relationship!r}.",
                code="INVALID_RELATIONSHIP",
                details=[{"field": "relationship", "message": ", ".join(RELATIONS)}],
            )
        return relationship

    async def _store_relationship(
        self,
        family_id: Any,
        user: Any,
        related: Any,
        relationship: str,
        session: AsyncClientSession | None = None,
    ) -> None:
        """`user` is `related`'s `relationship`, stored once with both directions."""
        a, b = sorted((ObjectId(str(user)), ObjectId(str(related))), key=str)
        a_is, b_is = (
            (relationship, RELATIONS[relationship])
            if a == ObjectId(str(user))
            else (RELATIONS[relationship], relationship)
        )
        await Relationship.get_pymongo_collection().update_one(
            {"family_id": ObjectId(str(family_id)), "pair_key": pair_key(a, b)},
            {
                "$set": {
                    "user_a": a,
                    "user_b": b,
                    "a_is": a_is,
                    "b_is": b_is,
                    "updated_at": self.core.now(),
                }
            },
            upsert=True,
            session=session,
        )

    async def on_member_joined(
        self, group: GroupDocument, inv: Invitation, session: AsyncClientSession
    ) -> None:
        if inv.relationship:
            await self._store_relationship(
                group.id, inv.invitee_id, inv.inviter_id, inv.relationship, session
            )

    async def after_member_joined(self, group: GroupDocument, inv: Invitation) -> None:
        if inv.relationship:
            await self._publish_relationship(
                group, inv.invitee_id, inv.inviter_id, inv.relationship
            )

    async def _publish_relationship(
        self, group: GroupDocument, user: Any, related: Any, relationship: str
    ) -> None:
        event = RelationshipChanged(
            group_id=str(group.id),
            user_id=str(user),
            related_user_id=str(related),
            relationship=relationship,
            inverse=RELATIONS[relationship],
        )
        await self.core.publish_group(group.id, "family.relationship_changed", event)

    async def on_member_removed(
        self, group: GroupDocument, user_id: Any, session: AsyncClientSession
    ) -> None:
        await Relationship.get_pymongo_collection().delete_many(
            {"family_id": group.id, "$or": [{"user_a": user_id}, {"user_b": user_id}]},
            session=session,
        )

    async def relationships(self, actor: Actor, family_id: Any) -> list[RelationshipView]:
        self.core.require_read(actor)
        group, _ = await self.core.load(actor, family_id)
        raws = (
            await Relationship.get_pymongo_collection().find({"family_id": group.id}).to_list(500)
        )
        views: list[RelationshipView] = []
        for raw in raws:
            r = Relationship.model_validate(raw)
            views.append(
                RelationshipView(
                    user_id=str(r.user_a), related_user_id=str(r.user_b), relationship=r.a_is
                )
            )
            views.append(
                RelationshipView(
                    user_id=str(r.user_b), related_user_id=str(r.user_a), relationship=r.b_is
                )
            )
        return views

    async def set_relationship(
        self, actor: Actor, family_id: Any, user_id: Any, cmd: RelationshipSet
    ) -> RelationshipView:
        cmd = validate(cmd)
        self.core.require_write(actor)
        group, _ = await self.core.load_admin(actor, family_id)
        relationship = self.check_relationship(cmd.relationship)
        assert relationship is not None
        user = await self.core.target(group, user_id)
        related = await self.core.target(group, cmd.to_user_id or str(actor.user_id))
        if user.user_id == related.user_id:
            raise Unprocessable(
                "A relationship needs two different members.", code="INVALID_RELATIONSHIP"
            )
        await self._store_relationship(group.id, user.user_id, related.user_id, relationship)
        await self._publish_relationship(group, user.user_id, related.user_id, relationship)
        return RelationshipView(
            user_id=str(user.user_id),
            related_user_id=str(related.user_id),
            relationship=relationship,
        )

    # ------------------------------------------------------------------ backup admins

    async def set_backup_admin(self, actor: Actor, family_id: Any, user_id: Any) -> MemberView:
        self.core.require_write(actor)
        group, _ = await self.core.load_admin(actor, family_id)
        target = await self.core.target(group, user_id)
        if self.core.kind.is_admin(target.role):
            raise Conflict("Admins can't be backup admins.", code="ALREADY_ADMIN")
        if target.backup_rank is not None:
            return await self._member_out(target)
        last = await Membership.get_pymongo_collection().find_one(
            {"group_kind": "family", "group_id": group.id, "backup_rank": {"$ne": None}},
            sort=[("backup_rank", -1)],
        )
        rank = (last["backup_rank"] + 1) if last else 1
        return await self._set_rank(group, target, rank)

    async def remove_backup_admin(self, actor: Actor, family_id: Any, user_id: Any) -> None:
        self.core.require_write(actor)
        group, _ = await self.core.load_admin(actor, family_id)
        target = await self.core.target(group, user_id)
        if target.backup_rank is None:
            return
        await self._set_rank(group, target, None)

    async def _set_rank(
        self, group: GroupDocument, target: Membership, rank: int | None
    ) -> MemberView:
        raw = await Membership.get_pymongo_collection().find_one_and_update(
            {"_id": target.id},
            {"$set": {"backup_rank": rank}},
            return_document=ReturnDocument.AFTER,
        )
        member = Membership.model_validate(raw)
        view = await self._member_out(member)
        await self.core.publish_group(
            group.id,
            "family.backup_admin_changed",
            await self.core.member_event(group.id, member, view.username),
        )
        return view

    async def _member_out(self, m: Membership) -> MemberView:
        return self.core.member_view(m, (await self.core.usernames([m.user_id])).get(m.user_id, ""))

    # ------------------------------------------------------------------ recovery

    async def _active_users(self, ids: list[ObjectId]) -> set[ObjectId]:
        cursor = User.get_pymongo_collection().find(
            {"_id": {"$in": ids}, "is_active": True}, {"_id": 1}
        )
        return {d["_id"] async for d in cursor}

    async def recover(
        self, actor: Actor, family_id: Any, cmd: RecoveryOpen | None
    ) -> RecoveryResult:
        """No active admin left: promote the first active backup admin, else open a vote."""
        self.core.require_write(actor)
        group, member = await self.core.load(actor, family_id)
        members = await self.core.members_of(group.id)  # type: ignore[arg-type]
        active = await self._active_users([m.user_id for m in members])
        if any(self.core.kind.is_admin(m.role) and m.user_id in active for m in members):
            raise Conflict("This family has an active admin.", code="ADMIN_PRESENT")
        backups = sorted(
            (m for m in members if m.backup_rank is not None and m.user_id in active),
            key=lambda m: m.backup_rank or 0,
        )
        if backups:
            view = await self._promote(group, backups[0], session=None)
            return RecoveryResult(outcome="promoted", promoted_user_id=view.user_id)
        reason = cmd.reason if cmd else "No active admin"
        vote = await self.votes.open_vote(
            group, member, "recovery", reason, self.core.config.recovery_window_seconds
        )
        return RecoveryResult(outcome="vote", vote=vote_view(vote))

    async def vote_recovery(
        self, actor: Actor, family_id: Any, vote_id: Any, cmd: VoteCast
    ) -> VoteView:
        cmd = validate(cmd)
        self.core.require_write(actor)
        group, member = await self.core.load(actor, family_id)
        return await self.votes.cast_vote(group, member, vote_id, "recovery", cmd.approve)

    async def promote_in(self, group_id: Any, user_id: Any, session: AsyncClientSession) -> bool:
        raw = await Membership.get_pymongo_collection().find_one_and_update(
            {"group_kind": "family", "group_id": group_id, "user_id": user_id, "role": "member"},
            {
                "$set": {
                    "role": "admin",
                    "backup_rank": None,
                    "can_spend": True,
                    "per_transaction_limit": UNLIMITED,
                    "monthly_limit": UNLIMITED,
                }
            },
            session=session,
        )
        if raw is None:
            return False
        await self.core.document.get_pymongo_collection().update_one(
            {"_id": group_id}, {"$inc": {"admin_count": 1}}, session=session
        )
        return True

    async def _promote(
        self, group: GroupDocument, target: Membership, session: AsyncClientSession | None
    ) -> MemberView:
        async def work(tx: Tx) -> bool:
            s = tx.session
            return await self.promote_in(group.id, target.user_id, s)

        if not await self.core.transaction(work):
            raise Conflict("The member changed meanwhile; try again.", code="CONCURRENT_UPDATE")
        return await self.announce_promotion(group, target.user_id)

    async def announce_promotion(self, group: GroupDocument, user_id: Any) -> MemberView:
        fresh = await self.core.membership(group.id, user_id)  # type: ignore[arg-type]
        assert fresh is not None
        view = await self._member_out(fresh)
        await self.core.publish_group(
            group.id,
            "family.member_role_changed",
            await self.core.member_event(group.id, fresh, view.username),
        )
        await self.core.notify(
            [user_id],
            "family.member_role_changed",
            f"You are now an admin of {group.name}.",
            {"groupId": str(group.id), "role": "admin"},
        )
        return view


class Recovery:
    """An approved recovery vote makes the member who opened it an admin."""

    def __init__(self, family: FamilyExtras) -> None:
        self.family = family

    async def apply(self, group: GroupDocument, vote: QuorumVote, tx: Tx) -> None:
        await self.family.promote_in(group.id, vote.opened_by, tx.session)

    async def announce(self, group: GroupDocument, vote: QuorumVote) -> None:
        await self.family.announce_promotion(group, vote.opened_by)


FamilyManager = GroupManager[FamilyExtras]
"""The families' manager: the shared facade, `extras` holding the family-only features."""
