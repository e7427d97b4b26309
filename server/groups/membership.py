"""Groups and their members: create, list, read, rename, delete, roles, remove, leave."""

from __future__ import annotations

from typing import Any

import msgspec
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from server.core.actor import Actor
from server.core.db import Tx
from server.core.errors import Conflict, Forbidden, NotFound, Unprocessable, valid_name
from server.core.wire import validate
from server.groups.base import GroupManagerBase
from server.groups.documents import (
    UNLIMITED,
    GroupDocument,
    Invitation,
    Membership,
    MembershipCounter,
)
from server.groups.events import GroupChanged
from server.groups.schemas import GroupCreate, GroupUpdate, GroupView, MemberView, RoleChange


class MembershipMixin(GroupManagerBase):
    # ------------------------------------------------------------------ counters

    async def _ensure_counter(self, user_id: Any) -> None:
        await MembershipCounter.get_pymongo_collection().update_one(
            {"user_id": user_id, "group_kind": self.kind.name},
            {"$setOnInsert": {"total": 0}},
            upsert=True,
        )

    async def _take_slot(self, user_id: Any, session: AsyncClientSession) -> None:
        """Count one more group for `user_id`, or refuse past the per-user limit."""
        done = await MembershipCounter.get_pymongo_collection().update_one(
            {
                "user_id": user_id,
                "group_kind": self.kind.name,
                "total": {"$lt": self.kind.max_groups_per_user},
            },
            {"$inc": {"total": 1}},
            session=session,
        )
        if done.modified_count != 1:
            raise Conflict(
                f"You can belong to at most {self.kind.max_groups_per_user} "
                f"{self.kind.label} groups.",
                code=f"{self._code}_LIMIT_REACHED",
            )

    async def _release_slot(self, user_id: Any, session: AsyncClientSession | None) -> None:
        await MembershipCounter.get_pymongo_collection().update_one(
            {"user_id": user_id, "group_kind": self.kind.name, "total": {"$gt": 0}},
            {"$inc": {"total": -1}},
            session=session,
        )

    def _new_membership(self, group_id: Any, user_id: Any, role: str) -> Membership:
        admin = self.kind.is_admin(role)
        return Membership(
            group_kind=self.kind.name,
            group_id=group_id,
            user_id=user_id,
            role=role,
            joined_at=self.now(),
            can_spend=admin,
            per_transaction_limit=UNLIMITED,
            monthly_limit=UNLIMITED,
        )

    # ------------------------------------------------------------------ groups

    async def create(self, actor: Actor, cmd: GroupCreate) -> GroupView:
        cmd = validate(cmd)
        self.require_write(actor)
        name = valid_name(cmd.name)
        await self._ensure_counter(actor.user_id)
        now = self.now()
        first_role = self.kind.owner_role or self.kind.roles[0]
        group = self.document(
            name=name,
            description=cmd.description,
            created_by=self.pid(actor.user_id),
            owner_id=self.pid(actor.user_id) if self.kind.owner_role else None,
            member_count=1,
            admin_count=1,
            created_at=now,
            updated_at=now,
        )
        member_holder: list[Membership] = []

        async def work(tx: Tx) -> None:

            session = tx.session
            await self._take_slot(actor.user_id, session)
            group.id = None
            await group.insert(session=session)
            member = self._new_membership(group.id, actor.user_id, first_role)
            await member.insert(session=session)
            member_holder[:] = [member]
            await self._open_wallet(group, session)
            for hook in self.created_hooks:
                await hook(self.kind.name, group, session)

        await self.transaction(work)
        member = member_holder[0]
        view = self.view(group, member)
        await self.publish_users(
            [actor.user_id], self.etype("created"), GroupChanged(self.info(group))
        )
        return view

    async def _open_wallet(self, group: GroupDocument, session: AsyncClientSession) -> None:
        """Overridden by the wallet mixin: open the group's ledger account."""

    async def list_mine(self, actor: Actor) -> list[GroupView]:
        self.require_read(actor)
        members = {
            m["group_id"]: Membership.model_validate(m)
            async for m in Membership.get_pymongo_collection().find(
                {"user_id": actor.user_id, "group_kind": self.kind.name}
            )
        }
        if not members:
            return []
        raws = await (
            self.document.get_pymongo_collection()
            .find({"_id": {"$in": list(members)}, "deleted_at": None})
            .sort("created_at", 1)
            .to_list()
        )
        groups = [self.document.model_validate(r) for r in raws]
        return [self.view(g, members[g.id]) for g in groups]

    async def get(self, actor: Actor, group_id: Any) -> GroupView:
        self.require_read(actor)
        group, member = await self.load(actor, group_id)
        return self.view(group, member)

    async def update(self, actor: Actor, group_id: Any, cmd: GroupUpdate) -> GroupView:
        cmd = validate(cmd)
        self.require_write(actor)
        group, member = await self.load_admin(actor, group_id)
        changes: dict[str, Any] = {}
        if cmd.name is not msgspec.UNSET:
            name = valid_name(cmd.name)
            changes["name"] = name
        if cmd.description is not msgspec.UNSET:
            changes["description"] = cmd.description
        if not changes:
            return self.view(group, member)
        changes["updated_at"] = self.now()
        raw = await self.document.get_pymongo_collection().find_one_and_update(
            {"_id": group.id, "deleted_at": None},
            {"$set": changes},
            return_document=ReturnDocument.AFTER,
        )
        if raw is None:
            raise self.not_found()
        group = self.document.model_validate(raw)
        if "name" in changes:
            await Invitation.get_pymongo_collection().update_many(
                {"group_id": group.id, "status": "pending"}, {"$set": {"group_name": group.name}}
            )
        await self.publish_group(group.id, self.etype("updated"), GroupChanged(self.info(group)))
        return self.view(group, member)

    # ------------------------------------------------------------------ members

    async def list_members(self, actor: Actor, group_id: Any) -> list[MemberView]:
        self.require_read(actor)
        group, _ = await self.load(actor, group_id)
        members = await self.members_of(group.id)  # type: ignore[arg-type]
        names = await self.usernames(m.user_id for m in members)
        return [self.member_view(m, names.get(m.user_id, "")) for m in members]

    async def _target(self, group: GroupDocument, user_id: Any) -> Membership:
        uid = self.oid(user_id)
        target = await self.membership(group.id, uid) if uid else None  # type: ignore[arg-type]
        if target is None:
            raise NotFound("That user is not a member.", code="MEMBER_NOT_FOUND")
        return target

    def _last_admin(self) -> Conflict:
        return Conflict(
            f"The last admin of a {self.kind.label} cannot leave, be removed or be demoted.",
            code="LAST_ADMIN",
        )

    async def _drop_admin(self, group_id: Any, session: AsyncClientSession, members: int) -> None:
        """One admin fewer (and `members` members fewer), refused if it is the last one."""
        done = await self.document.get_pymongo_collection().update_one(
            {"_id": group_id, "deleted_at": None, "admin_count": {"$gt": 1}},
            {"$inc": {"admin_count": -1, "member_count": -members}},
            session=session,
        )
        if done.modified_count != 1:
            raise self._last_admin()

    async def change_role(
        self, actor: Actor, group_id: Any, user_id: Any, cmd: RoleChange
    ) -> MemberView:
        cmd = validate(cmd)
        self.require_write(actor)
        group, me = await self.load_admin(actor, group_id)
        target = await self._target(group, user_id)
        role = cmd.role
        if role not in self.kind.roles:
            raise Unprocessable(
                f"Unknown role {role!r}.",
                code="INVALID_ROLE",
                details=[{"field": "role", "message": f"one of {', '.join(self.kind.roles)}"}],
            )
        owner = self.kind.owner_role
        if owner and (role == owner or target.role == owner):
            raise Forbidden(
                "The owner's role changes only by transferring ownership.", code="OWNER_ROLE"
            )
        if target.role == role:
            return self.member_view(
                target, (await self.usernames([target.user_id])).get(target.user_id, "")
            )
        if owner and self.kind.is_admin(target.role) and me.role != owner:
            raise Forbidden("Only the owner may change an admin's role.", code="OWNER_REQUIRED")
        was_admin, now_admin = self.kind.is_admin(target.role), self.kind.is_admin(role)

        async def work(tx: Tx) -> dict[str, Any] | None:

            session = tx.session
            if was_admin and not now_admin:
                await self._drop_admin(group.id, session, 0)
            elif now_admin and not was_admin:
                await self.document.get_pymongo_collection().update_one(
                    {"_id": group.id}, {"$inc": {"admin_count": 1}}, session=session
                )
            spend: dict[str, Any] = {"role": role}
            if was_admin != now_admin:
                spend |= {
                    "can_spend": now_admin,
                    "per_transaction_limit": UNLIMITED,
                    "monthly_limit": UNLIMITED,
                }
            return await Membership.get_pymongo_collection().find_one_and_update(
                {"_id": target.id, "role": target.role},
                {"$set": spend},
                session=session,
                return_document=ReturnDocument.AFTER,
            )

        raw = await self.transaction(work)
        if raw is None:
            raise Conflict("The member changed meanwhile; try again.", code="CONCURRENT_UPDATE")
        updated = Membership.model_validate(raw)
        name = (await self.usernames([updated.user_id])).get(updated.user_id, "")
        view = self.member_view(updated, name)
        event = await self.member_event(group.id, updated, name)
        await self.publish_group(group.id, self.etype("member_role_changed"), event)
        await self.notify(
            [updated.user_id],
            self.etype("member_role_changed"),
            f"Your role in {group.name} is now {role}.",
            {"groupId": str(group.id), "role": role},
        )
        return view

    async def remove_member(self, actor: Actor, group_id: Any, user_id: Any) -> None:
        self.require_write(actor)
        group, me = await self.load(actor, group_id)
        target = await self._target(group, user_id)
        if target.user_id == me.user_id:
            return await self.leave(actor, group_id)
        if not self.kind.is_admin(me.role):
            raise self.admin_required()
        owner = self.kind.owner_role
        if owner and target.role == owner:
            raise Forbidden("The owner cannot be removed.", code="OWNER_ROLE")
        if owner and self.kind.is_admin(target.role) and me.role != owner:
            raise Forbidden("Only the owner may remove an admin.", code="OWNER_REQUIRED")
        await self._remove(group, target, reason="removed")
        await self.notify(
            [target.user_id],
            self.etype("member_removed"),
            f"You were removed from {group.name}.",
            {"groupId": str(group.id)},
        )
        return None

    async def leave(self, actor: Actor, group_id: Any) -> None:
        self.require_write(actor)
        group, me = await self.load(actor, group_id)
        if self.kind.owner_role and me.role == self.kind.owner_role:
            raise Conflict(
                "The owner must transfer ownership before leaving.", code="OWNER_CANNOT_LEAVE"
            )
        await self._remove(group, me, reason="left")

    async def _remove(self, group: GroupDocument, target: Membership, *, reason: str) -> None:
        async def work(tx: Tx) -> None:
            session = tx.session
            if self.kind.is_admin(target.role):
                await self._drop_admin(group.id, session, 1)
            else:
                await self.document.get_pymongo_collection().update_one(
                    {"_id": group.id}, {"$inc": {"member_count": -1}}, session=session
                )
            gone = await Membership.get_pymongo_collection().delete_one(
                {"_id": target.id, "role": target.role}, session=session
            )
            if gone.deleted_count != 1:
                raise Conflict("The member changed meanwhile; try again.", code="CONCURRENT_UPDATE")
            await self._release_slot(target.user_id, session)
            await self._on_member_removed(group, target.user_id, session)

        await self.transaction(work)
        event = await self.removed_event(group.id, target.user_id, reason)
        await self.publish_group(group.id, self.etype("member_removed"), event)
        await self.publish_users([target.user_id], self.etype("member_removed"), event)

    async def _on_member_removed(
        self, group: GroupDocument, user_id: Any, session: AsyncClientSession
    ) -> None:
        """Hook for kind-specific data about a member (families drop relationships)."""
