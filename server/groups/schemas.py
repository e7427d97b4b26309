"""Wire types shared by families and workspaces (camelCase JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from server.core.wire import Input, ObjectIdStr, Output

GroupName = Annotated[str, msgspec.Meta(min_length=3, max_length=50)]
Description = Annotated[str, msgspec.Meta(max_length=500)]
RoleName = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
Reason = Annotated[str, msgspec.Meta(min_length=5, max_length=500)]
Comment = Annotated[str, msgspec.Meta(max_length=500)]
# Any JSON number or string, checked by the manager (`check_amount`): a quoted, fractional
# or exponent amount is INVALID_AMOUNT, as for personal transfers (issue 15, F11).
Amount = Annotated[int | float | str, msgspec.Meta(description="A whole number of tokens")]
Budget = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
Limit = Annotated[int, msgspec.Meta(ge=-1, le=10**12, description="-1 = unlimited")]
RelationshipName = Annotated[str, msgspec.Meta(min_length=1, max_length=30)]


class GroupCreate(Input):
    name: GroupName
    description: Description = ""


class GroupUpdate(Input):
    name: GroupName | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET


class RoleChange(Input):
    role: RoleName


class InvitationCreate(Input):
    """Invite a registered user by `username` or `email`."""

    username: Annotated[str, msgspec.Meta(min_length=1, max_length=50)] | None = None
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=254)] | None = None
    relationship: RelationshipName | None = None
    role: RoleName | None = None


class WalletPermissionsUpdate(Input):
    can_spend: bool
    per_transaction_limit: Limit = -1
    monthly_limit: Limit = -1
    # Tokens this member's requests are paid at once per month; null = the role's default,
    # absent = unchanged.
    auto_approve_budget: Budget | msgspec.UnsetType | None = msgspec.UNSET


class FreezeRequest(Input):
    reason: Annotated[str, msgspec.Meta(min_length=3, max_length=500)]


class SpendTarget(Input):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=50)] | None = None
    account_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None


class GroupSpendRequest(Input):
    to: SpendTarget
    amount: Amount
    memo: Comment = ""


class TokenRequestCreate(Input):
    amount: Amount
    reason: Reason


class DecisionRequest(Input):
    comment: Comment | None = None


class VoteOpen(Input):
    reason: Reason


class VoteCast(Input):
    approve: bool


class TransferOwnership(Input):
    user_id: ObjectIdStr


class GroupInfo(Output):
    id: str
    kind: str
    name: str
    description: str
    member_count: int
    owner_id: str | None
    frozen: bool
    frozen_reason: str | None
    created_at: datetime
    updated_at: datetime


class GroupView(GroupInfo):
    my_role: str


class MemberView(Output):
    user_id: str
    username: str
    role: str
    joined_at: datetime
    backup_rank: int | None = None


class InvitationView(Output):
    id: str
    group_kind: str
    group_id: str
    group_name: str
    invitee_id: str
    invitee_username: str
    inviter_id: str
    role: str
    relationship: str | None
    status: str
    created_at: datetime
    expires_at: datetime
    responded_at: datetime | None


class MemberPermissionView(Output):
    user_id: str
    username: str
    role: str
    can_spend: bool
    per_transaction_limit: int
    monthly_limit: int
    period_spent: int
    auto_approve_budget: int = 0  # token requests paid at once per month
    auto_approve_remaining: int = 0  # what is left of it this month


class GroupWalletView(Output):
    group_id: str
    account_id: str | None
    balance: int
    frozen: bool
    frozen_reason: str | None
    period: str
    members: list[MemberPermissionView]


class RequestView(Output):
    id: str
    group_id: str
    kind: str
    requester_id: str
    amount: int
    reason: str
    status: str
    auto_approved: bool
    created_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    comment: str | None
    transfer_id: str | None
    purchase: dict[str, Any] | None = None


class VoteView(Output):
    id: str
    group_id: str
    purpose: str
    opened_by: str
    reason: str
    required: int
    approvals: list[str]
    rejections: list[str]
    status: str
    created_at: datetime
    expires_at: datetime


class SpendResult(Output):
    transfer_id: str
    amount: int
    balance: int


class RecoveryResult(Output):
    """`promoted` (a backup admin took over at once) or `vote` (members must approve)."""

    outcome: str
    promoted_user_id: str | None = None
    vote: VoteView | None = None


class GroupPage(Output):
    """A page of GroupViews (`nextCursor` null on the last)."""

    items: list[GroupView]
    next_cursor: str | None = None


class MemberPage(Output):
    """A page of MemberViews (`nextCursor` null on the last)."""

    items: list[MemberView]
    next_cursor: str | None = None


class InvitationPage(Output):
    """A page of InvitationViews (`nextCursor` null on the last)."""

    items: list[InvitationView]
    next_cursor: str | None = None


class RequestPage(Output):
    """A page of RequestViews (`nextCursor` null on the last)."""

    items: list[RequestView]
    next_cursor: str | None = None


class VotePage(Output):
    """A page of VoteViews (`nextCursor` null on the last)."""

    items: list[VoteView]
    next_cursor: str | None = None
