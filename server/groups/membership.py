"""Groups and their members: create, list, read, rename, delete, roles, remove, leave."""

from __future__ import annotations

from typing import Any

import msgspec
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from server.core.actor import Actor
from server.core.db import Tx
from server.core.errors import Conflict, Forbidden, Unprocessable, valid_name
from server.core.wire import validate
from server.groups.accounts import GroupAccounts
from server.groups.core import GroupCore
from server.groups.documents import UNLIMITED, GroupDocument, Invitation, Membership
from server.groups.events import GroupChanged
from server.groups.hooks import KindRules
from server.groups.schemas import GroupCreate, GroupUpdate, GroupView, MemberView, RoleChange
from server.groups.slots import MembershipSlots


class Members:
    """Groups and their members; the kind's own rules (`KindRules`) run on removal."""

    def __init__(
        self, core: GroupCore, slots: MembershipSlots, accounts: GroupAccounts, rules: KindRules
    ) -> None:
        self.core = core
        self.slots = slots
        self.accounts = accounts
        self.rules = rules

    # ------------------------------------------------------------------ groups

    async def create(self, actor: Actor, cmd: GroupCreate) -> GroupView:
        cmd = validate(cmd)
        self.core.require_write(actor)
        name = valid_name(cmd.name)
        await self.slots.ensure(actor.user_id)
        now = self.core.now()
        first_role = self.core.kind.owner_role or self.core.kind.roles[0]
        group = self.core.document(
            name=name,
            description=cmd.description,
            created_by=self.core.pid(actor.user_id),
            owner_id=self.core.pid(actor.user_id) if self.core.kind.owner_role else None,
            member_count=1,
            admin_count=1,
            created_at=now,
            updated_at=now,
        )
        member_holder: list[Membership] = []

        async def work(tx: Tx) -> None:

            session = tx.session
            await self.slots.take(actor.user_id, session)
            group.id = None
            await group.insert(session=session)
            member = self.core.new_membership(group.id, actor.user_id, first_role)
            await member.insert(session=session)
            member_holder[:] = [member]
            await self.accounts.open(group, session)
            for hook in self.core.created_hooks:
                await hook(self.core.kind.name, group, session)

        await self.core.transaction(work)
        member = member_holder[0]
        view = self.core.view(group, member)
        await self.core.publish_users(
            [actor.user_id], self.core.etype("created"), GroupChanged(self.core.info(group))
        )
        return view

    async def list_mine(self, actor: Actor) -> list[GroupView]:
        self.core.require_read(actor)
        members = {
            m["group_id"]: Membership.model_validate(m)
            async for m in Membership.get_pymongo_collection().find(
                {"user_id": actor.user_id, "group_kind": self.core.kind.name}
            )
        }
        if not members:
            return []
        raws = await (
            self.core.document.get_pymongo_collection()
            .find({"_id": {"$in": list(members)}, "deleted_at": None})
            .sort("created_at", 1)
            .to_list()
        )
        groups = [self.core.document.model_validate(r) for r in raws]
        return [self.core.view(g, members[g.id]) for g in groups]

    async def get(self, actor: Actor, group_id: Any) -> GroupView:
        self.core.require_read(actor)
        group, member = await self.core.load(actor, group_id)
        return self.core.view(group, member)

    async def update(self, actor: Actor, group_id: Any, cmd: GroupUpdate) -> GroupView:
        cmd = validate(cmd)
        self.core.require_write(actor)
        group, member = await self.core.load_admin(actor, group_id)
        changes: dict[str, Any] = {}
        if cmd.name is not msgspec.UNSET:
            name = valid_name(cmd.name)
            changes["name"] = name
        if cmd.description is not msgspec.UNSET:
            changes["description"] = cmd.description
        if not changes:
            return self.core.view(group, member)
        changes["updated_at"] = self.core.now()
        raw = await self.core.document.get_pymongo_collection().find_one_and_update(
            {"_id": group.id, "deleted_at": None},
            {"$set": changes},
            return_document=ReturnDocument.AFTER,
        )
        if raw is None:
            raise self.core.not_found()
        group = self.core.document.model_validate(raw)
        if "name" in changes:
            await Invitation.get_pymongo_collection().update_many(
                {"group_id": group.id, "status": "pending"}, {"$set": {"group_name": group.name}}
            )
        await self.core.publish_group(
            group.id, self.core.etype("updated"), GroupChanged(self.core.info(group))
        )
        return self.core.view(group, member)

    # ------------------------------------------------------------------ members

    async def list_members(self, actor: Actor, group_id: Any) -> list[MemberView]:
        self.core.require_read(actor)
        group, _ = await self.core.load(actor, group_id)
        members = await self.core.members_of(group.id)  # type: ignore[arg-type]
        names = await self.core.usernames(m.user_id for m in members)
        return [self.core.member_view(m, names.get(m.user_id, "")) for m in members]

    async def _drop_admin(self, group_id: Any, session: AsyncClientSession, members: int) -> None:
        """One admin fewer (and `members` members fewer), refused if it is the last one."""
        done = await self.core.document.get_pymongo_collection().update_one(
            {"_id": group_id, "deleted_at": None, "admin_count": {"$gt": 1}},
            {"$inc": {"admin_count": -1, "member_count": -members}},
            session=session,
        )
        if done.modified_count != 1:
            raise self.core.last_admin()

    async def change_role(
        self, actor: Actor, group_id: Any, user_id: Any, cmd: RoleChange
    ) -> MemberView:
        cmd = validate(cmd)
        self.core.require_write(actor)
        group, me = await self.core.load_admin(actor, group_id)
        target = await self.core.target(group, user_id)
        role = cmd.role
        if role not in self.core.kind.roles:
            raise Unprocessable(
                f"Unknown role {role!r}.",
                code="INVALID_ROLE",
                details=[{"field": "role", "message": f"one of {', '.join(self.core.kind.roles)}"}],
            )
        owner = self.core.kind.owner_role
        if owner and (role == owner or target.role == owner):
            raise Forbidden(
                "The owner's role changes only by transferring ownership.", code="OWNER_ROLE"
            )
        if target.role == role:
            return self.core.member_view(
                target, (await self.core.usernames([target.user_id])).get(target.user_id, "")
            )
        if owner and self.core.kind.is_admin(target.role) and me.role != owner:
            raise Forbidden("Only the owner may change an admin's role.", code="OWNER_REQUIRED")
        was_admin, now_admin = self.core.kind.is_admin(target.role), self.core.kind.is_admin(role)

        async def work(tx: Tx) -> dict[str, Any] | None:

            session = tx.session
            if was_admin and not now_admin:
                await self._drop_admin(group.id, session, 0)
            elif now_admin and not was_admin:
                await self.core.document.get_pymongo_collection().update_one(
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

        raw = await self.core.transaction(work)
        if raw is None:
            raise Conflict("The member changed meanwhile; try again.", code="CONCURRENT_UPDATE")
        updated = Membership.model_validate(raw)
        name = (await self.core.usernames([updated.user_id])).get(updated.user_id, "")
        view = self.core.member_view(updated, name)
        event = await self.core.member_event(group.id, updated, name)
        await self.core.publish_group(group.id, self.core.etype("member_role_changed"), event)
        await self.core.notify(
            [updated.user_id],
            self.core.etype("member_role_changed"),
            f"Your role in {group.name} is now {role}.",
            {"groupId": str(group.id), "role": role},
        )
        return view

    async def remove_member(self, actor: Actor, group_id: Any, user_id: Any) -> None:
        self.core.require_write(actor)
        group, me = await self.core.load(actor, group_id)
        target = await self.core.target(group, user_id)
        if target.user_id == me.user_id:
            return await self.leave(actor, group_id)
        if not self.core.kind.is_admin(me.role):
            raise self.core.admin_required()
        owner = self.core.kind.owner_role
        if owner and target.role == owner:
            raise Forbidden("The owner cannot be removed.", code="OWNER_ROLE")
        if owner and self.core.kind.is_admin(target.role) and me.role != owner:
            raise Forbidden("Only the owner may remove an admin.", code="OWNER_REQUIRED")
        await self._remove(group, target, reason="removed")
        await self.core.notify(
            [target.user_id],
            self.core.etype("member_removed"),
            f"You were removed from {group.name}.",
            {"groupId": str(group.id)},
        )
        return None

    async def leave(self, actor: Actor, group_id: Any) -> None:
        self.core.require_write(actor)
        group, me = await self.core.load(actor, group_id)
        if self.core.kind.owner_role and me.role == self.core.kind.owner_role:
            raise Conflict(
                "The owner must transfer ownership before leaving.", code="OWNER_CANNOT_LEAVE"
            )
        await self._remove(group, me, reason="left")

    async def _remove(self, group: GroupDocument, target: Membership, *, reason: str) -> None:
        async def work(tx: Tx) -> None:
            session = tx.session
            if self.core.kind.is_admin(target.role):
                await self._drop_admin(group.id, session, 1)
            else:
                await self.core.document.get_pymongo_collection().update_one(
                    {"_id": group.id}, {"$inc": {"member_count": -1}}, session=session
                )
            gone = await Membership.get_pymongo_collection().delete_one(
                {"_id": target.id, "role": target.role}, session=session
            )
            if gone.deleted_count != 1:
                raise Conflict("The member changed meanwhile; try again.", code="CONCURRENT_UPDATE")
            await self.slots.release(target.user_id, session)
            await self.rules.on_member_removed(group, target.user_id, session)

        await self.core.transaction(work)
        event = await self.core.removed_event(group.id, target.user_id, reason)
        await self.core.publish_group(group.id, self.core.etype("member_removed"), event)
        await self.core.publish_users([target.user_id], self.core.etype("member_removed"), event)
