"""What differs between a family and a workspace: one spec, handed to the shared managers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from server.core.channels import group_channel

KindName = Literal["family", "workspace"]


@dataclass(frozen=True, slots=True)
class GroupKind:
    name: KindName
    label: str  # "family" / "workspace" in messages
    roles: tuple[str, ...]  # every role, highest first
    admin_roles: frozenset[str]  # roles that manage members, invitations and the wallet
    owner_role: str | None  # a role that can never be removed or re-roled (workspaces)
    default_role: str  # the role an invitee gets unless the invitation names one
    invitable_roles: frozenset[str]
    max_members: int
    max_groups_per_user: int
    relationships: bool  # families name relations between members
    backup_admins: bool  # families promote backup admins / recover by quorum
    # Roles whose token requests are never paid at once unless an admin sets a budget.
    no_budget_roles: frozenset[str] = frozenset()

    @property
    def channel_prefix(self) -> str:
        return self.name

    @property
    def scope_area(self) -> str:
        """The API-token scope area: `families` / `workspaces` (`families:read`, ...)."""
        return "families" if self.name == "family" else "workspaces"

    def channel(self, group_id: object) -> str:
        return group_channel(self.name, group_id)

    def is_admin(self, role: str) -> bool:
        return role in self.admin_roles


def family_kind(*, max_members: int = 12, max_per_user: int = 3) -> GroupKind:
    return GroupKind(
        name="family",
        label="family",
        roles=("admin", "member"),
        admin_roles=frozenset({"admin"}),
        owner_role=None,
        default_role="member",
        invitable_roles=frozenset({"member", "admin"}),
        max_members=max_members,
        max_groups_per_user=max_per_user,
        relationships=True,
        backup_admins=True,
    )


def workspace_kind(*, max_members: int = 50, max_per_user: int = 20) -> GroupKind:
    return GroupKind(
        name="workspace",
        label="workspace",
        roles=("owner", "admin", "editor", "viewer"),
        admin_roles=frozenset({"owner", "admin"}),
        owner_role="owner",
        default_role="viewer",
        invitable_roles=frozenset({"admin", "editor", "viewer"}),
        max_members=max_members,
        max_groups_per_user=max_per_user,
        relationships=False,
        backup_admins=False,
        no_budget_roles=frozenset({"viewer"}),
    )
