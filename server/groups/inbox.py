"""Received invitations across families and workspaces: list, accept, decline.

The invitation names its group kind; accepting or declining is done by that kind's manager.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bson import ObjectId

from server.core.actor import Actor
from server.core.errors import NotFound
from server.groups.core import as_utc
from server.groups.documents import Invitation
from server.groups.hooks import KindRules
from server.groups.manager import GroupManager
from server.groups.schemas import InvitationView, MemberView


class InvitationInbox:
    def __init__(self, managers: Mapping[str, GroupManager[KindRules]]) -> None:
        self._managers = dict(managers)

    def _manager(self, inv: Invitation) -> GroupManager[KindRules]:
        return self._managers[inv.group_kind]

    async def _mine(self, actor: Actor, inv_id: Any) -> Invitation:
        raw = None
        if isinstance(inv_id, str) and ObjectId.is_valid(inv_id):
            raw = await Invitation.get_pymongo_collection().find_one(
                {"_id": ObjectId(inv_id), "invitee_id": actor.user_id}
            )
        if raw is None or raw["group_kind"] not in self._managers:
            raise NotFound("No such invitation.", code="INVITATION_NOT_FOUND")
        return Invitation.model_validate(raw)

    async def received(self, actor: Actor, status: str | None = "pending") -> list[InvitationView]:
        """Invitations to the kinds the actor may read (an API token: its `…:read` scopes)."""
        readable = [
            kind
            for kind, manager in self._managers.items()
            if actor.allows_scope(f"{manager.kind.scope_area}:read")
        ]
        if not readable:
            # Refused with the first kind's scope (the standard INSUFFICIENT_SCOPE body).
            next(iter(self._managers.values())).require_read(actor)
        query: dict[str, Any] = {"invitee_id": actor.user_id, "group_kind": {"$in": readable}}
        if status:
            query["status"] = status
        raws = await Invitation.get_pymongo_collection().find(query).sort("_id", -1).to_list(200)
        views = []
        for raw in raws:
            inv = Invitation.model_validate(raw)
            manager = self._managers.get(inv.group_kind)
            if manager is None:
                continue
            if inv.status == "pending" and as_utc(inv.expires_at) <= manager.now():
                await manager.expire_invitation(inv)
                if status == "pending":
                    continue
                inv.status = "expired"
            views.append(manager.invitation_view(inv, actor.username))
        return views

    async def accept(self, actor: Actor, inv_id: Any) -> MemberView:
        inv = await self._mine(actor, inv_id)
        return await self._manager(inv).accept_invitation(actor, inv)

    async def decline(self, actor: Actor, inv_id: Any) -> InvitationView:
        inv = await self._mine(actor, inv_id)
        return await self._manager(inv).decline_invitation(actor, inv)
