"""Event payloads shared by families and workspaces.

Each domain's `events.py` names its event types (`family.member_joined`,
`workspace.member_joined`, ...) with these Structs; `event_types(prefix)` builds that list.
"""

from __future__ import annotations

from server.core.wire import Output
from server.groups.schemas import (
    GroupInfo,
    InvitationView,
    MemberPermissionView,
    MemberView,
    RequestView,
    VoteView,
)


class GroupChanged(Output):
    """created / updated / deleted / frozen state: the group as everyone sees it."""

    group: GroupInfo


class MemberChanged(Output):
    """member_joined / member_role_changed / backup_admin_changed: the member as listed, their
    wallet permissions (a role change resets them) and the group's member count."""

    group_id: str
    member: MemberView
    permissions: MemberPermissionView
    member_count: int


class MemberRemoved(Output):
    group_id: str
    user_id: str
    reason: str  # removed | left | deleted
    member_count: int


class OwnershipTransferred(Output):
    group_id: str
    previous_owner_id: str
    owner_id: str


class InvitationChanged(Output):
    invitation: InvitationView


class PermissionsChanged(Output):
    group_kind: str
    group_id: str
    member: MemberPermissionView


class GroupSpent(Output):
    group_kind: str
    group_id: str
    spender_id: str
    amount: int
    transfer_id: str
    balance: int
    period_spent: int


class RequestChanged(Output):
    group_kind: str
    request: RequestView


class VoteChanged(Output):
    group_kind: str
    vote: VoteView


class DeletionPayout(Output):
    group_kind: str
    group_id: str
    payouts: dict[str, int]


def event_types(prefix: str) -> dict[str, type]:
    """Every event a group of kind `prefix` publishes, with its payload Struct.

    Freezing publishes the ledger's own `wallet.frozen`/`wallet.unfrozen` (see
    `server/wallet/events.py`) and `<prefix>.updated` (the group's `frozen` changed);
    spends publish the ledger's `wallet.transfer_completed` and `<prefix>.wallet_spent`.
    """
    return {
        f"{prefix}.created": GroupChanged,
        f"{prefix}.updated": GroupChanged,
        f"{prefix}.deleted": GroupChanged,
        f"{prefix}.deletion_payout": DeletionPayout,
        f"{prefix}.member_joined": MemberChanged,
        f"{prefix}.member_role_changed": MemberChanged,
        f"{prefix}.member_removed": MemberRemoved,
        f"{prefix}.invitation_created": InvitationChanged,
        f"{prefix}.invitation_received": InvitationChanged,
        f"{prefix}.invitation_resent": InvitationChanged,
        f"{prefix}.invitation_cancelled": InvitationChanged,
        f"{prefix}.invitation_accepted": InvitationChanged,
        f"{prefix}.invitation_declined": InvitationChanged,
        f"{prefix}.invitation_expired": InvitationChanged,
        f"{prefix}.permissions_changed": PermissionsChanged,
        f"{prefix}.wallet_spent": GroupSpent,
        "token_request.created": RequestChanged,
        "token_request.approved": RequestChanged,
        "token_request.denied": RequestChanged,
        "token_request.expired": RequestChanged,
        "token_request.failed": RequestChanged,
        "purchase_request.created": RequestChanged,
        "purchase_request.approved": RequestChanged,
        "purchase_request.denied": RequestChanged,
        "purchase_request.expired": RequestChanged,
        "purchase_request.failed": RequestChanged,
        "emergency_unfreeze.opened": VoteChanged,
        "emergency_unfreeze.voted": VoteChanged,
        "emergency_unfreeze.approved": VoteChanged,
        "emergency_unfreeze.rejected": VoteChanged,
        "emergency_unfreeze.expired": VoteChanged,
    }
