"""Invitations to a group: invite, list, cancel, resend; the invitee accepts or declines.

Expiry is enforced at the moment of use (an expired invitation is marked `expired`, never
deleted, and can't be accepted) and by the sweep, which publishes the events.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from auth.documents import User
from server.core.actor import Actor
from server.core.db import Tx
from server.core.errors import Conflict, NotFound, Unprocessable
from server.core.ids import stored_id
from server.core.wire import validate
from server.groups.core import GroupCore, as_utc
from server.groups.documents import GroupDocument, Invitation
from server.groups.events import InvitationChanged
from server.groups.hooks import KindRules
from server.groups.schemas import InvitationCreate, InvitationView, MemberView
from server.groups.slots import MembershipSlots
from server.wallet.manager import WalletManager

INVITATION_GONE = "This invitation is no longer open."


class Invitations:
    """Invitations of one group kind; joining runs the kind's `KindRules`."""

    def __init__(
        self, core: GroupCore, slots: MembershipSlots, rules: KindRules, wallet: WalletManager
    ) -> None:
        self.core = core
        self.slots = slots
        self.rules = rules
        self.wallet_manager = wallet  # inviting needs a verified e-mail (the ledger's setting)

    async def _inv_view(self, inv: Invitation) -> InvitationView:
        names = await self.core.usernames([inv.invitee_id])
        return self.core.invitation_view(inv, names.get(inv.invitee_id, ""))

    async def invite(
        self, actor: Actor, group_id: Any, cmd: InvitationCreate
    ) -> tuple[InvitationView, bool]:
        """The invitation and whether it is new (an open one for the same person is returned)."""
        cmd = validate(cmd)
        self.core.require_write(actor)
        group, _ = await self.core.load_admin(actor, group_id)
        await self.wallet_manager.require_verified(actor)
        if bool(cmd.username) == bool(cmd.email):
            raise Unprocessable(
                "Give exactly one of username or email.",
                details=[{"field": "username", "message": "username or email"}],
            )
        field, value = ("username", cmd.username) if cmd.username else ("email", cmd.email)
        invitee = await User.find_one({field: str(value).strip().lower(), "is_active": True})
        if invitee is None:
            raise NotFound("No user with that username or e-mail.", code="USER_NOT_FOUND")
        already = await self.core.membership(stored_id(group.id), stored_id(invitee.id))
        if invitee.id == actor.user_id or already is not None:
            raise Conflict(
                f"That user is already in this {self.core.kind.label}.", code="ALREADY_MEMBER"
            )
        role = cmd.role or self.core.kind.default_role
        if role not in self.core.kind.invitable_roles:
            raise Unprocessable(
                f"Invitations can't give the role {role!r}.",
                code="INVALID_ROLE",
                details=[
                    {"field": "role", "message": ", ".join(sorted(self.core.kind.invitable_roles))}
                ],
            )
        relationship = self.rules.check_relationship(cmd.relationship)
        now = self.core.now()
        existing = await self._open_invitation(group.id, invitee.id)
        if existing is not None:
            return await self._inv_view(existing), False
        recent = await Invitation.get_pymongo_collection().find_one(
            {
                "group_id": group.id,
                "invitee_id": invitee.id,
                "status": "declined",
                "responded_at": {
                    "$gt": now - timedelta(seconds=self.core.config.decline_cooldown_seconds)
                },
            }
        )
        if recent is not None:
            raise Conflict(
                "This person declined recently; they can be invited again after 24 hours.",
                code="RECENTLY_DECLINED",
            )
        if group.member_count >= self.core.kind.max_members:
            raise Conflict(f"This {self.core.kind.label} is full.", code=f"{self.core.code}_FULL")
        inv = Invitation(
            group_kind=self.core.kind.name,
            group_id=group.id,
            group_name=group.name,
            invitee_id=invitee.id,
            inviter_id=self.core.pid(actor.user_id),
            role=role,
            relationship=relationship,
            pending_key=f"{group.id}:{invitee.id}",
            created_at=now,
            expires_at=now + timedelta(seconds=self.core.config.invitation_ttl_seconds),
        )
        try:
            await inv.insert()
        except DuplicateKeyError:
            # Another admin invited the same person a moment ago: that one is the invitation.
            existing = await self._open_invitation(group.id, invitee.id)
            if existing is None:
                raise Conflict("Try again.", code="CONCURRENT_UPDATE") from None
            return await self._inv_view(existing), False
        view = self.core.invitation_view(inv, invitee.username)
        await self.core.publish_group(
            group.id, self.core.etype("invitation_created"), InvitationChanged(view)
        )
        await self.core.publish_users(
            [invitee.id], self.core.etype("invitation_received"), InvitationChanged(view)
        )
        await self.core.notify(
            [invitee.id],
            "invitation.received",
            f"{actor.username} invited you to {group.name}.",
            {
                "invitationId": str(inv.id),
                "groupKind": self.core.kind.name,
                "groupId": str(group.id),
            },
        )
        return view, True

    async def _open_invitation(self, group_id: Any, invitee_id: Any) -> Invitation | None:
        """The pending invitation for this person, expiring it first if its time has passed."""
        raw = await Invitation.get_pymongo_collection().find_one(
            {"pending_key": f"{group_id}:{invitee_id}", "status": "pending"}
        )
        if raw is None:
            return None
        inv = Invitation.model_validate(raw)
        if as_utc(inv.expires_at) <= self.core.now():
            await self.expire_invitation(inv)
            return None
        return inv

    async def _close(
        self,
        inv: Invitation,
        status: str,
        session: AsyncClientSession | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Invitation | None:
        """Compare-and-set `pending` -> `status`; None if someone else closed it first."""
        raw = await Invitation.get_pymongo_collection().find_one_and_update(
            {"_id": inv.id, "status": "pending"},
            {
                "$set": {
                    "status": status,
                    "responded_at": self.core.now(),
                    "pending_key": f"closed:{inv.id}",
                    **(extra or {}),
                }
            },
            session=session,
            return_document=ReturnDocument.AFTER,
        )
        return Invitation.model_validate(raw) if raw else None

    async def expire_invitation(self, inv: Invitation) -> bool:
        closed = await self._close(inv, "expired")
        if closed is None:
            return False
        view = await self._inv_view(closed)
        event = InvitationChanged(view)
        await self.core.publish_group(inv.group_id, self.core.etype("invitation_expired"), event)
        await self.core.publish_users(
            [inv.invitee_id], self.core.etype("invitation_expired"), event
        )
        return True

    async def list_invitations(
        self, actor: Actor, group_id: Any, status: str | None = None
    ) -> list[InvitationView]:
        self.core.require_read(actor)
        group, _ = await self.core.load_admin(actor, group_id)
        await self.expire_invitations(group_id=group.id)
        query: dict[str, Any] = {"group_kind": self.core.kind.name, "group_id": group.id}
        if status:
            query["status"] = status
        raws = await Invitation.get_pymongo_collection().find(query).sort("_id", -1).to_list(500)
        invs = [Invitation.model_validate(r) for r in raws]
        names = await self.core.usernames(i.invitee_id for i in invs)
        return [self.core.invitation_view(i, names.get(i.invitee_id, "")) for i in invs]

    async def _group_invitation(self, group: GroupDocument, inv_id: Any) -> Invitation:
        iid = self.core.oid(inv_id)
        raw = (
            await Invitation.get_pymongo_collection().find_one(
                {"_id": iid, "group_id": group.id, "group_kind": self.core.kind.name}
            )
            if iid
            else None
        )
        if raw is None:
            raise NotFound("No such invitation.", code="INVITATION_NOT_FOUND")
        return Invitation.model_validate(raw)

    async def cancel_invitation(self, actor: Actor, group_id: Any, inv_id: Any) -> None:
        self.core.require_write(actor)
        group, _ = await self.core.load_admin(actor, group_id)
        inv = await self._group_invitation(group, inv_id)
        closed = await self._close(inv, "cancelled")
        if closed is None:
            raise Conflict(INVITATION_GONE, code="INVITATION_NOT_PENDING")
        event = InvitationChanged(await self._inv_view(closed))
        await self.core.publish_group(group.id, self.core.etype("invitation_cancelled"), event)
        await self.core.publish_users(
            [inv.invitee_id], self.core.etype("invitation_cancelled"), event
        )

    async def resend_invitation(self, actor: Actor, group_id: Any, inv_id: Any) -> InvitationView:
        self.core.require_write(actor)
        group, _ = await self.core.load_admin(actor, group_id)
        inv = await self._group_invitation(group, inv_id)
        now = self.core.now()
        if inv.status == "pending" and as_utc(inv.expires_at) <= now:
            await self.expire_invitation(inv)
            raise Conflict("The invitation has expired; invite again.", code="INVITATION_EXPIRED")
        raw = await Invitation.get_pymongo_collection().find_one_and_update(
            {"_id": inv.id, "status": "pending", "expires_at": {"$gt": now}},
            {
                "$set": {
                    "resent_at": now,
                    "expires_at": now + timedelta(seconds=self.core.config.invitation_ttl_seconds),
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if raw is None:
            raise Conflict(INVITATION_GONE, code="INVITATION_NOT_PENDING")
        view = await self._inv_view(Invitation.model_validate(raw))
        await self.core.publish_group(
            group.id, self.core.etype("invitation_resent"), InvitationChanged(view)
        )
        await self.core.publish_users(
            [inv.invitee_id], self.core.etype("invitation_received"), InvitationChanged(view)
        )
        await self.core.notify(
            [inv.invitee_id],
            "invitation.received",
            f"{actor.username} reminded you of an invitation to {group.name}.",
            {
                "invitationId": str(inv.id),
                "groupKind": self.core.kind.name,
                "groupId": str(group.id),
            },
        )
        return view

    # ------------------------------------------------------------------ the invitee's side

    async def accept_invitation(self, actor: Actor, inv: Invitation) -> MemberView:
        self.core.require_write(actor)
        if inv.invitee_id != actor.user_id:
            raise NotFound("No such invitation.", code="INVITATION_NOT_FOUND")
        if inv.status != "pending":
            raise Conflict(INVITATION_GONE, code="INVITATION_NOT_PENDING")
        now = self.core.now()
        if as_utc(inv.expires_at) <= now:
            await self.expire_invitation(inv)
            raise Conflict("The invitation has expired.", code="INVITATION_EXPIRED")
        await self.slots.ensure(actor.user_id)
        member = self.core.new_membership(inv.group_id, inv.invitee_id, inv.role)
        group_holder: list[GroupDocument] = []

        async def work(tx: Tx) -> None:

            session = tx.session
            closed = await Invitation.get_pymongo_collection().update_one(
                {"_id": inv.id, "status": "pending", "expires_at": {"$gt": now}},
                {
                    "$set": {
                        "status": "accepted",
                        "responded_at": now,
                        "pending_key": f"closed:{inv.id}",
                    }
                },
                session=session,
            )
            if closed.modified_count != 1:
                raise Conflict(INVITATION_GONE, code="INVITATION_NOT_PENDING")
            inc = {"member_count": 1} | (
                {"admin_count": 1} if self.core.kind.is_admin(inv.role) else {}
            )
            raw = await self.core.document.get_pymongo_collection().find_one_and_update(
                {
                    "_id": inv.group_id,
                    "deleted_at": None,
                    "member_count": {"$lt": self.core.kind.max_members},
                },
                {"$inc": inc},
                session=session,
                return_document=ReturnDocument.AFTER,
            )
            if raw is None:
                if await self.core.find_group(inv.group_id) is None:
                    raise NotFound(
                        f"The {self.core.kind.label} no longer exists.",
                        code=f"{self.core.code}_NOT_FOUND",
                    )
                raise Conflict(
                    f"This {self.core.kind.label} is full.", code=f"{self.core.code}_FULL"
                )
            group_holder[:] = [self.core.document.model_validate(raw)]
            await self.slots.take(actor.user_id, session)
            member.id = None
            try:
                await member.insert(session=session)
            except DuplicateKeyError:
                raise Conflict(
                    f"You are already in this {self.core.kind.label}.", code="ALREADY_MEMBER"
                ) from None
            await self.rules.on_member_joined(group_holder[0], inv, session)

        await self.core.transaction(work)
        group = group_holder[0]
        view = self.core.member_view(member, actor.username)
        inv.status, inv.responded_at = "accepted", now
        inv_view = self.core.invitation_view(inv, actor.username)
        await self.core.publish_group(
            group.id, self.core.etype("invitation_accepted"), InvitationChanged(inv_view)
        )
        joined = await self.core.member_event(group.id, member, actor.username)
        await self.core.publish_group(group.id, self.core.etype("member_joined"), joined)
        await self.core.publish_users([actor.user_id], self.core.etype("member_joined"), joined)
        await self.rules.after_member_joined(group, inv)
        others = [uid for uid in await self.core.member_ids(group.id) if uid != actor.user_id]  # type: ignore[arg-type]
        await self.core.notify(
            others,
            self.core.etype("member_joined"),
            f"{actor.username} joined {group.name}.",
            {"groupId": str(group.id), "userId": str(actor.user_id)},
        )
        return view

    async def decline_invitation(self, actor: Actor, inv: Invitation) -> InvitationView:
        self.core.require_write(actor)
        if inv.invitee_id != actor.user_id:
            raise NotFound("No such invitation.", code="INVITATION_NOT_FOUND")
        if inv.status == "pending" and as_utc(inv.expires_at) <= self.core.now():
            await self.expire_invitation(inv)
            raise Conflict("The invitation has expired.", code="INVITATION_EXPIRED")
        closed = await self._close(inv, "declined")
        if closed is None:
            raise Conflict(INVITATION_GONE, code="INVITATION_NOT_PENDING")
        view = self.core.invitation_view(closed, actor.username)
        await self.core.publish_group(
            inv.group_id, self.core.etype("invitation_declined"), InvitationChanged(view)
        )
        await self.core.notify(
            [inv.inviter_id],
            "invitation.declined",
            f"{actor.username} declined the invitation to {inv.group_name}.",
            {
                "invitationId": str(inv.id),
                "groupKind": self.core.kind.name,
                "groupId": str(inv.group_id),
            },
        )
        return view

    async def expire_invitations(
        self, *, group_id: ObjectId | None = None, limit: int = 500
    ) -> int:
        """Mark pending invitations past their time `expired` (history kept), with events."""
        return await self.core.expire_due(
            Invitation, self.expire_invitation, group_id=group_id, limit=limit
        )
