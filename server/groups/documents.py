"""Documents shared by families and workspaces: the group shape, members, invitations,
token/purchase requests, quorum votes (emergency unfreeze, recovery) and spend counters.

Every shared document carries `group_kind` + `group_id`; the group itself lives in its own
collection (`families`, `workspaces`) as a subclass of `GroupDocument`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from server.core.clock import utcnow

UNLIMITED = -1


def period_of(now: datetime) -> str:
    """The spending period (a calendar month, UTC) that `now` falls in."""
    return f"{now.year:04d}-{now.month:02d}"


class GroupDocument(Document):
    """The fields every group has. Not a collection itself: see Family and Workspace."""

    name: str
    description: str = ""
    created_by: PydanticObjectId
    owner_id: PydanticObjectId | None = None
    account_id: str | None = None  # the group's wallet account (the ledger's id)
    member_count: int = 0
    admin_count: int = 0
    frozen: bool = False
    frozen_reason: str | None = None
    frozen_by: PydanticObjectId | None = None
    frozen_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    deleted_at: datetime | None = None


class Membership(Document):
    group_kind: str
    group_id: PydanticObjectId
    user_id: PydanticObjectId
    role: str
    joined_at: datetime = Field(default_factory=utcnow)
    # Spending rules on the group wallet.
    can_spend: bool = False
    per_transaction_limit: int = UNLIMITED
    monthly_limit: int = UNLIMITED
    # Token requests paid at once per month (None = the role's default, see RequestBudget).
    auto_approve_budget: int | None = None
    # Bumped by every token request inside its transaction: concurrent requests of one member
    # then conflict and run one after the other, so the budget and open-request cap hold.
    request_seq: int = 0
    # Families: the order in which backup admins are promoted (None = not a backup admin).
    backup_rank: int | None = None

    class Settings:
        name = "group_memberships"
        indexes = [
            IndexModel(
                [("group_kind", ASCENDING), ("group_id", ASCENDING), ("user_id", ASCENDING)],
                unique=True,
                name="group_user_unique",
            ),
            IndexModel([("user_id", ASCENDING), ("group_kind", ASCENDING)], name="user_kind"),
            IndexModel([("group_id", ASCENDING), ("role", ASCENDING)], name="group_role"),
        ]


class MembershipCounter(Document):
    """How many groups of a kind a user belongs to (a compare-and-set guard for the limit)."""

    user_id: PydanticObjectId
    group_kind: str
    total: int = 0

    class Settings:
        name = "group_membership_counters"
        indexes = [
            IndexModel(
                [("user_id", ASCENDING), ("group_kind", ASCENDING)],
                unique=True,
                name="user_kind_unique",
            )
        ]


class Invitation(Document):
    group_kind: str
    group_id: PydanticObjectId
    group_name: str
    invitee_id: PydanticObjectId
    inviter_id: PydanticObjectId
    role: str
    relationship: str | None = None  # families: the invitee is the inviter's <relationship>
    status: str = "pending"  # pending | accepted | declined | cancelled | expired
    # "<group>:<invitee>" while pending (unique: one pending invitation per person and group),
    # then "closed:<id>".
    pending_key: str
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    responded_at: datetime | None = None
    resent_at: datetime | None = None

    class Settings:
        name = "group_invitations"
        indexes = [
            IndexModel(
                [("group_kind", ASCENDING), ("group_id", ASCENDING), ("status", ASCENDING)],
                name="group_status",
            ),
            IndexModel([("pending_key", ASCENDING)], unique=True, name="one_pending"),
            IndexModel([("invitee_id", ASCENDING), ("status", ASCENDING)], name="invitee_status"),
            IndexModel([("status", ASCENDING), ("expires_at", ASCENDING)], name="status_expiry"),
            IndexModel(
                [("group_id", ASCENDING), ("invitee_id", ASCENDING), ("responded_at", ASCENDING)],
                name="group_invitee",
            ),
        ]


class GroupRequest(Document):
    """A token request or a purchase request to the group wallet, decided by an admin."""

    group_kind: str
    group_id: PydanticObjectId
    kind: str = "tokens"  # tokens | purchase
    requester_id: PydanticObjectId
    amount: int
    reason: str
    purchase: dict[str, Any] | None = None  # for purchase requests: what to buy
    status: str = "pending"  # pending | approved | denied | expired | failed
    auto_approved: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    decided_by: PydanticObjectId | None = None
    decided_at: datetime | None = None
    comment: str | None = None
    transfer_id: str | None = None
    failure: str | None = None

    class Settings:
        name = "group_requests"
        indexes = [
            IndexModel(
                [("group_kind", ASCENDING), ("group_id", ASCENDING), ("status", ASCENDING)],
                name="group_status",
            ),
            IndexModel([("status", ASCENDING), ("expires_at", ASCENDING)], name="status_expiry"),
            IndexModel(
                [("group_id", ASCENDING), ("requester_id", ASCENDING), ("status", ASCENDING)],
                name="group_requester_status",
            ),
        ]


class QuorumVote(Document):
    """An emergency-unfreeze or recovery request that members approve by quorum."""

    group_kind: str
    group_id: PydanticObjectId
    purpose: str  # emergency_unfreeze | recovery
    opened_by: PydanticObjectId
    reason: str = ""
    required: int
    approvals: list[PydanticObjectId] = Field(default_factory=list)
    rejections: list[PydanticObjectId] = Field(default_factory=list)
    status: str = "open"  # open | approved | rejected | expired
    # "<group>:<purpose>" while open (unique: one open vote per group and purpose), then
    # "closed:<id>" so the history stays.
    open_key: str
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    closed_at: datetime | None = None

    class Settings:
        name = "group_votes"
        indexes = [
            IndexModel([("open_key", ASCENDING)], unique=True, name="one_open"),
            IndexModel([("group_id", ASCENDING), ("purpose", ASCENDING)], name="group_purpose"),
            IndexModel([("status", ASCENDING), ("expires_at", ASCENDING)], name="status_expiry"),
        ]


class SpendCounter(Document):
    """A member's spend from a group wallet in one calendar month (UTC), reserved by CAS."""

    group_id: PydanticObjectId
    user_id: PydanticObjectId
    period: str  # "2026-11"
    spent: int = 0

    class Settings:
        name = "group_spend_counters"
        indexes = [
            IndexModel(
                [("group_id", ASCENDING), ("user_id", ASCENDING), ("period", ASCENDING)],
                unique=True,
                name="group_user_period",
            )
        ]


class AutoApprovalCounter(Document):
    """Tokens a member's requests were paid at once in one calendar month (UTC), by CAS."""

    group_id: PydanticObjectId
    user_id: PydanticObjectId
    period: str  # "2026-11"
    approved: int = 0

    class Settings:
        name = "group_auto_approval_counters"
        indexes = [
            IndexModel(
                [("group_id", ASCENDING), ("user_id", ASCENDING), ("period", ASCENDING)],
                unique=True,
                name="group_user_period",
            )
        ]


GROUP_DOCUMENTS: list[Any] = [
    Membership,
    MembershipCounter,
    Invitation,
    GroupRequest,
    QuorumVote,
    SpendCounter,
    AutoApprovalCounter,
]
