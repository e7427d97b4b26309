"""`WorkspaceManager`: the shared group manager with an owner (owner, admin, editor, viewer)."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from server.core.actor import Actor
from server.core.errors import Conflict, Forbidden
from server.groups.documents import UNLIMITED, Membership
from server.groups.events import GroupChanged, OwnershipTransferred
from server.groups.manager import GroupManager
from server.groups.schemas import GroupView
from server.workspaces.schemas import TransferOwnership


class WorkspaceManager(GroupManager):
    def _may_delete(self, member: Membership) -> bool:
        return member.role == "owner"

    async def transfer_ownership(
        self, actor: Actor, workspace_id: Any, cmd: TransferOwnership
    ) -> GroupView:
        self.require_write(actor)
        group, me = await self.load(actor, workspace_id)
        if me.role != "owner":
            raise Forbidden("Only the owner may transfer ownership.", code="OWNER_REQUIRED")
        target = await self._target(group, cmd.user_id)
        if target.user_id == me.user_id:
            raise Conflict("You already own this workspace.", code="ALREADY_OWNER")
        was_admin = self.kind.is_admin(target.role)
        admin_rules = {
            "can_spend": True,
            "per_transaction_limit": UNLIMITED,
            "monthly_limit": UNLIMITED,
        }

        async def work(session: AsyncClientSession) -> bool:
            members = Membership.get_pymongo_collection()
            up = await members.update_one(
                {"_id": target.id, "role": target.role},
                {"$set": {"role": "owner", **admin_rules}},
                session=session,
            )
            down = await members.update_one(
                {"_id": me.id, "role": "owner"}, {"$set": {"role": "admin"}}, session=session
            )
            if up.modified_count != 1 or down.modified_count != 1:
                return False
            await self.document.get_pymongo_collection().update_one(
                {"_id": group.id},
                {
                    "$set": {"owner_id": target.user_id, "updated_at": self.now()},
                    "$inc": {"admin_count": 0 if was_admin else 1},
                },
                session=session,
            )
            return True

        if not await self.transaction(work):
            raise Conflict("The members changed meanwhile; try again.", code="CONCURRENT_UPDATE")
        fresh = await self.find_group(group.id)
        assert fresh is not None
        event = OwnershipTransferred(
            group_id=str(group.id), previous_owner_id=str(me.user_id), owner_id=str(target.user_id)
        )
        await self.publish_group(group.id, "workspace.ownership_transferred", event)
        await self.publish_group(group.id, self.etype("updated"), GroupChanged(self.info(fresh)))
        names = await self.usernames([me.user_id, target.user_id])
        for uid in (me.user_id, target.user_id):
            m = await self.membership(group.id, uid)  # type: ignore[arg-type]
            if m is not None:
                await self.publish_group(
                    group.id,
                    "workspace.member_role_changed",
                    await self.member_event(group.id, m, names.get(uid, "")),
                )
        await self.notify(
            [target.user_id],
            "workspace.ownership_transferred",
            f"You now own {group.name}.",
            {"groupId": str(group.id)},
        )
        mine = await self.membership(group.id, me.user_id)  # type: ignore[arg-type]
        assert mine is not None
        return self.view(fresh, mine)
