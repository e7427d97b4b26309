"""Workspaces: the shared `GroupManager` composed with `WorkspaceExtras` — a group with an
owner (owner, admin, editor, viewer) who alone deletes it or hands it on."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from server.core.actor import Actor
from server.core.db import Tx
from server.core.errors import Conflict, Forbidden
from server.core.wire import validate
from server.groups.core import GroupCore
from server.groups.documents import UNLIMITED, GroupDocument, Invitation, Membership
from server.groups.events import GroupChanged, OwnershipTransferred
from server.groups.manager import GroupManager
from server.groups.schemas import GroupView
from server.groups.votes import Votes
from server.workspaces.schemas import TransferOwnership


class WorkspaceExtras:
    """What only workspaces have (ownership), and the workspace's `KindRules`."""

    def __init__(self, core: GroupCore, votes: Votes) -> None:
        self.core = core
        self.votes = votes

    # ------------------------------------------------------------------ KindRules

    def may_delete(self, member: Membership) -> bool:
        return member.role == "owner"

    def check_relationship(self, relationship: str | None) -> str | None:
        return None  # workspaces name no relationships

    async def on_member_joined(
        self, group: GroupDocument, inv: Invitation, session: AsyncClientSession
    ) -> None:
        return None

    async def after_member_joined(self, group: GroupDocument, inv: Invitation) -> None:
        return None

    async def on_member_removed(
        self, group: GroupDocument, user_id: Any, session: AsyncClientSession
    ) -> None:
        return None

    # ------------------------------------------------------------------ ownership

    async def transfer_ownership(
        self, actor: Actor, workspace_id: Any, cmd: TransferOwnership
    ) -> GroupView:
        cmd = validate(cmd)
        self.core.require_write(actor)
        group, me = await self.core.load(actor, workspace_id)
        if me.role != "owner":
            raise Forbidden("Only the owner may transfer ownership.", code="OWNER_REQUIRED")
        target = await self.core.target(group, cmd.user_id)
        if target.user_id == me.user_id:
            raise Conflict("You already own this workspace.", code="ALREADY_OWNER")
        was_admin = self.core.kind.is_admin(target.role)
        admin_rules = {
            "can_spend": True,
            "per_transaction_limit": UNLIMITED,
            "monthly_limit": UNLIMITED,
        }

        async def work(tx: Tx) -> bool:

            session = tx.session
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
            await self.core.document.get_pymongo_collection().update_one(
                {"_id": group.id},
                {
                    "$set": {"owner_id": target.user_id, "updated_at": self.core.now()},
                    "$inc": {"admin_count": 0 if was_admin else 1},
                },
                session=session,
            )
            return True

        if not await self.core.transaction(work):
            raise Conflict("The members changed meanwhile; try again.", code="CONCURRENT_UPDATE")
        fresh = await self.core.find_group(group.id)
        assert fresh is not None
        event = OwnershipTransferred(
            group_id=str(group.id), previous_owner_id=str(me.user_id), owner_id=str(target.user_id)
        )
        await self.core.publish_group(group.id, "workspace.ownership_transferred", event)
        await self.core.publish_group(
            group.id, self.core.etype("updated"), GroupChanged(self.core.info(fresh))
        )
        names = await self.core.usernames([me.user_id, target.user_id])
        for uid in (me.user_id, target.user_id):
            m = await self.core.membership(group.id, uid)  # type: ignore[arg-type]
            if m is not None:
                await self.core.publish_group(
                    group.id,
                    "workspace.member_role_changed",
                    await self.core.member_event(group.id, m, names.get(uid, "")),
                )
        await self.core.notify(
            [target.user_id],
            "workspace.ownership_transferred",
            f"You now own {group.name}.",
            {"groupId": str(group.id)},
        )
        mine = await self.core.membership(group.id, me.user_id)  # type: ignore[arg-type]
        assert mine is not None
        return self.core.view(fresh, mine)


WorkspaceManager = GroupManager[WorkspaceExtras]
"""The workspaces' manager: the shared facade, `extras` holding ownership."""
