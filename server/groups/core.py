"""`GroupCore`: what every group collaborator shares — loading a group as an actor, access
checks, views, the clock, and publishing after commit. Members, invitations, votes, the
wallet, requests, purchases and deletion each hold one (see `server/groups/manager.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from beanie import Document, PydanticObjectId
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from auth.documents import User
from auth.scopes import require_scope
from realtime.bus import EventBus
from server.core.actor import Actor
from server.core.channels import user_channel
from server.core.clock import utcnow
from server.core.db import Tx, run_in_transaction
from server.core.errors import Conflict, Forbidden, NotFound
from server.groups.budget import RequestBudget
from server.groups.config import GroupConfig
from server.groups.documents import (
    UNLIMITED,
    GroupDocument,
    Invitation,
    Membership,
    SpendCounter,
    period_of,
)
from server.groups.events import MemberChanged, MemberRemoved
from server.groups.kinds import GroupKind
from server.groups.schemas import (
    GroupInfo,
    GroupView,
    InvitationView,
    MemberPermissionView,
    MemberView,
)
from server.notifications.manager import NotificationManager

log = logging.getLogger("server.groups")
T = TypeVar("T")
D = TypeVar("D", bound=Document)
TX_ATTEMPTS = 30


def as_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class GroupCore:
    """One group kind's shared state and helpers; every collaborator reads the clock here
    (`now` is replaceable, tests move it), so they all agree on the time."""

    def __init__(
        self,
        *,
        kind: GroupKind,
        document: type[GroupDocument],
        mongo: AsyncMongoClient[Any],
        bus: EventBus,
        notifications: NotificationManager,
        config: GroupConfig | None = None,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.kind = kind
        self.document = document
        self._mongo = mongo
        self._bus = bus
        self._notifications = notifications
        self.config = config or GroupConfig()
        self.now = now
        # F1: token-request auto-approval budget and open-request cap (a collaborator).
        self.budget = RequestBudget(kind, self.config, lambda: self.now())
        # Called inside the creating transaction (the notes domain creates the group's space).
        self.created_hooks: list[
            Callable[[str, GroupDocument, AsyncClientSession], Awaitable[None]]
        ] = []

    async def transaction(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """One transaction, retried on write conflicts (group documents are hot under races).
        Events queued on the `Tx` go out once it committed."""
        return await run_in_transaction(
            self._mongo, work, publisher=self._bus, attempts=TX_ATTEMPTS
        )

    # ------------------------------------------------------------------ errors

    @property
    def code(self) -> str:
        return self.kind.name.upper()

    def not_found(self) -> NotFound:
        return NotFound(f"No such {self.kind.label}.", code=f"{self.code}_NOT_FOUND")

    def admin_required(self) -> Forbidden:
        return Forbidden(
            f"Only {self.kind.label} admins may do this.", code=f"{self.code}_ADMIN_REQUIRED"
        )

    # ------------------------------------------------------------------ API-token scopes

    def require_read(self, actor: Actor) -> None:
        """403 `INSUFFICIENT_SCOPE` for a token without `families:read` / `workspaces:read`."""
        require_scope(actor, f"{self.kind.scope_area}:read")

    def require_write(self, actor: Actor) -> None:
        """403 `INSUFFICIENT_SCOPE` for a token without `families:write` / `workspaces:write`."""
        require_scope(actor, f"{self.kind.scope_area}:write")

    def require_transfer(self, actor: Actor) -> None:
        """Moving the group's money: the group's write scope and `wallet:transfer`."""
        self.require_write(actor)
        require_scope(actor, "wallet:transfer")

    # ------------------------------------------------------------------ loading

    @staticmethod
    def oid(value: Any) -> ObjectId | None:
        if isinstance(value, ObjectId):
            return value
        return ObjectId(value) if isinstance(value, str) and ObjectId.is_valid(value) else None

    async def find_group(self, group_id: Any) -> GroupDocument | None:
        gid = self.oid(group_id)
        if gid is None:
            return None
        raw = await self.document.get_pymongo_collection().find_one(
            {"_id": gid, "deleted_at": None}
        )
        return self.document.model_validate(raw) if raw else None

    async def membership(self, group_id: ObjectId, user_id: ObjectId) -> Membership | None:
        raw = await Membership.get_pymongo_collection().find_one(
            {"group_kind": self.kind.name, "group_id": group_id, "user_id": user_id}
        )
        return Membership.model_validate(raw) if raw else None

    async def load(self, actor: Actor, group_id: Any) -> tuple[GroupDocument, Membership]:
        """The group and the actor's membership; 404 for anyone who is not a member."""
        group = await self.find_group(group_id)
        if group is None:
            raise self.not_found()
        member = await self.membership(group.id, actor.user_id)  # type: ignore[arg-type]
        if member is None:
            raise self.not_found()
        return group, member

    async def load_admin(self, actor: Actor, group_id: Any) -> tuple[GroupDocument, Membership]:
        group, member = await self.load(actor, group_id)
        if not self.kind.is_admin(member.role):
            raise self.admin_required()
        return group, member

    async def target(self, group: GroupDocument, user_id: Any) -> Membership:
        """A member of `group` named by the caller; 404 `MEMBER_NOT_FOUND` otherwise."""
        uid = self.oid(user_id)
        target = await self.membership(group.id, uid) if uid else None  # type: ignore[arg-type]
        if target is None:
            raise NotFound("That user is not a member.", code="MEMBER_NOT_FOUND")
        return target

    def new_membership(self, group_id: Any, user_id: Any, role: str) -> Membership:
        """A joining member: admins may spend without limits, others not at all."""
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

    def last_admin(self) -> Conflict:
        return Conflict(
            f"The last admin of a {self.kind.label} cannot leave, be removed or be demoted.",
            code="LAST_ADMIN",
        )

    async def is_member(self, actor: Actor, group_id: Any) -> bool:
        """For the real-time channel authorizer: may `actor` subscribe to this group?"""
        group = await self.find_group(group_id)
        if group is None:
            return False
        return await self.membership(group.id, actor.user_id) is not None  # type: ignore[arg-type]

    async def members_of(self, group_id: ObjectId) -> list[Membership]:
        raws = await (
            Membership.get_pymongo_collection()
            .find({"group_kind": self.kind.name, "group_id": group_id})
            .sort("joined_at", 1)
            .to_list()
        )
        return [Membership.model_validate(r) for r in raws]

    async def member_ids(self, group_id: ObjectId) -> list[ObjectId]:
        return [m.user_id for m in await self.members_of(group_id)]

    async def admin_ids(self, group_id: ObjectId) -> list[ObjectId]:
        return [m.user_id for m in await self.members_of(group_id) if self.kind.is_admin(m.role)]

    @staticmethod
    async def usernames(user_ids: Iterable[ObjectId]) -> dict[ObjectId, str]:
        ids = list(set(user_ids))
        if not ids:
            return {}
        cursor = User.get_pymongo_collection().find({"_id": {"$in": ids}}, {"username": 1})
        return {doc["_id"]: doc["username"] async for doc in cursor}

    # ------------------------------------------------------------------ views

    def info(self, group: GroupDocument) -> GroupInfo:
        return GroupInfo(
            id=str(group.id),
            kind=self.kind.name,
            name=group.name,
            description=group.description,
            member_count=group.member_count,
            owner_id=str(group.owner_id) if group.owner_id else None,
            frozen=group.frozen,
            frozen_reason=group.frozen_reason,
            created_at=group.created_at,
            updated_at=group.updated_at,
        )

    def view(self, group: GroupDocument, member: Membership) -> GroupView:
        info = self.info(group)
        return GroupView(
            **{f: getattr(info, f) for f in info.__struct_fields__}, my_role=member.role
        )

    @staticmethod
    def member_view(member: Membership, username: str) -> MemberView:
        return MemberView(
            user_id=str(member.user_id),
            username=username,
            role=member.role,
            joined_at=member.joined_at,
            backup_rank=member.backup_rank,
        )

    @staticmethod
    def invitation_view(inv: Invitation, invitee_username: str) -> InvitationView:
        return InvitationView(
            id=str(inv.id),
            group_kind=inv.group_kind,
            group_id=str(inv.group_id),
            group_name=inv.group_name,
            invitee_id=str(inv.invitee_id),
            invitee_username=invitee_username,
            inviter_id=str(inv.inviter_id),
            role=inv.role,
            relationship=inv.relationship,
            status=inv.status,
            created_at=inv.created_at,
            expires_at=inv.expires_at,
            responded_at=inv.responded_at,
        )

    async def period_spent(self, group_id: Any) -> dict[ObjectId, int]:
        period = period_of(self.now())
        return {
            d["user_id"]: d["spent"]
            async for d in SpendCounter.get_pymongo_collection().find(
                {"group_id": group_id, "period": period}
            )
        }

    def permission_view(
        self, m: Membership, username: str, spent: int, auto_used: int = 0
    ) -> MemberPermissionView:
        return MemberPermissionView(
            user_id=str(m.user_id),
            username=username,
            role=m.role,
            can_spend=m.can_spend,
            per_transaction_limit=m.per_transaction_limit,
            monthly_limit=m.monthly_limit,
            period_spent=spent,
            auto_approve_budget=self.budget.budget_of(m),
            auto_approve_remaining=self.budget.remaining(m, auto_used),
        )

    async def member_event(self, group_id: Any, m: Membership, username: str) -> MemberChanged:
        group = await self.find_group(group_id)
        spent = (await self.period_spent(m.group_id)).get(m.user_id, 0)
        auto_used = (await self.budget.used(m.group_id)).get(m.user_id, 0)
        return MemberChanged(
            group_id=str(m.group_id),
            member=self.member_view(m, username),
            permissions=self.permission_view(m, username, spent, auto_used),
            member_count=group.member_count if group else 0,
        )

    async def removed_event(self, group_id: Any, user_id: Any, reason: str) -> MemberRemoved:
        group = await self.find_group(group_id)
        return MemberRemoved(
            group_id=str(group_id),
            user_id=str(user_id),
            reason=reason,
            member_count=group.member_count if group else 0,
        )

    # ------------------------------------------------------------------ after commit

    def queue_group(self, tx: Tx, group_id: Any, type_: str, data: Any) -> None:
        """Publish on the group's channel once `tx` commits."""
        tx.publish(self.kind.channel(group_id), type_, data)

    def queue_users(self, tx: Tx, user_ids: Iterable[Any], type_: str, data: Any) -> None:
        """Publish on each user's own channel once `tx` commits."""
        for uid in dict.fromkeys(str(u) for u in user_ids):
            tx.publish(user_channel(uid), type_, data)

    async def publish_group(self, group_id: Any, type_: str, data: Any) -> None:
        await self._bus.publish(self.kind.channel(group_id), type_, data)

    async def publish_users(self, user_ids: Iterable[Any], type_: str, data: Any) -> None:
        for uid in dict.fromkeys(str(u) for u in user_ids):
            await self._bus.publish(user_channel(uid), type_, data)

    async def notify(
        self, recipients: Sequence[Any], type_: str, title: str, data: dict[str, Any]
    ) -> None:
        try:
            await self._notifications.notify(recipients, type_, title, data)
        except Exception:  # a notification never undoes a committed write
            log.exception("notification failed", extra={"type": type_})

    def etype(self, verb: str) -> str:
        return f"{self.kind.name}.{verb}"

    async def expire_due(
        self,
        model: type[D],
        expire_one: Callable[[D], Awaitable[bool]],
        *,
        group_id: ObjectId | None = None,
        limit: int = 500,
    ) -> int:
        """Run `expire_one` on this kind's pending `model` records whose time has passed (one
        group, or all); how many it expired. Invitations and requests share this sweep."""
        query: dict[str, Any] = {
            "group_kind": self.kind.name,
            "status": "pending",
            "expires_at": {"$lte": self.now()},
        }
        if group_id is not None:
            query["group_id"] = group_id
        raws = await model.get_pymongo_collection().find(query).to_list(limit)
        count = 0
        for raw in raws:
            if await expire_one(model.model_validate(raw)):
                count += 1
        return count

    @staticmethod
    def pid(value: Any) -> PydanticObjectId:
        return PydanticObjectId(value)
