"""How families, workspaces, invitations and notifications join the app (called by
`server/app.py`, the composition root): documents, managers, routes and the sweep."""

from __future__ import annotations

from typing import Any

from server.families.documents import Family, Relationship
from server.families.manager import FamilyManager
from server.families.routes import ROUTE_HANDLERS as FAMILY_ROUTES
from server.groups.config import GroupConfig
from server.groups.documents import GROUP_DOCUMENTS
from server.groups.inbox import InvitationInbox
from server.groups.kinds import family_kind, workspace_kind
from server.groups.routes import InvitationInboxController
from server.notifications.documents import Notification, NotificationPreference
from server.notifications.manager import NotificationManager
from server.notifications.routes import NotificationController
from server.notifications.wallet_hooks import WalletNotifier
from server.workspaces.documents import Workspace
from server.workspaces.manager import WorkspaceManager
from server.workspaces.routes import ROUTE_HANDLERS as WORKSPACE_ROUTES

GROUP_DOCUMENT_MODELS: list[Any] = [
    Family,
    Workspace,
    Relationship,
    *GROUP_DOCUMENTS,
    Notification,
    NotificationPreference,
]

GROUP_ROUTE_HANDLERS: list[Any] = [
    *FAMILY_ROUTES,
    *WORKSPACE_ROUTES,
    InvitationInboxController,
    NotificationController,
]


def group_config(settings: Any) -> GroupConfig:
    return GroupConfig(
        invitation_ttl_seconds=settings.invitation_ttl_seconds,
        decline_cooldown_seconds=settings.invitation_decline_cooldown_seconds,
        auto_approve_budget=settings.token_request_auto_approve_budget,
        max_open_requests=settings.token_request_max_open,
        request_ttl_seconds=settings.token_request_ttl_seconds,
        emergency_unfreeze_window_seconds=settings.emergency_unfreeze_window_seconds,
        recovery_window_seconds=settings.family_recovery_window_seconds,
    )


async def group_name(owner_type: str, owner_id: Any) -> str | None:
    """The name of the family or workspace that owns a wallet (for wallet notifications)."""
    document: Any = {"family": Family, "workspace": Workspace}.get(owner_type)
    if document is None:
        return None
    doc = await document.get_pymongo_collection().find_one({"_id": owner_id}, {"name": 1})
    return doc.get("name") if doc else None


def attach_groups(services: Any, settings: Any) -> None:
    """Build the notification, family and workspace managers onto `services`."""
    notifications = NotificationManager(mongo=services.mongo, bus=services.bus)
    wallet_notifier = WalletNotifier(notifications, group_name=group_name)
    services.ledger.add_moved_hook(wallet_notifier.on_moved)
    services.ledger.add_frozen_hook(wallet_notifier.on_frozen)
    config = group_config(settings)
    common = {
        "mongo": services.mongo,
        "bus": services.bus,
        "notifications": notifications,
        "ledger": services.ledger,
        "wallet": services.wallet,
        "config": config,
    }
    families = FamilyManager(
        kind=family_kind(
            max_members=settings.family_max_members, max_per_user=settings.family_max_per_user
        ),
        document=Family,
        **common,
    )
    workspaces = WorkspaceManager(
        kind=workspace_kind(
            max_members=settings.workspace_max_members,
            max_per_user=settings.workspace_max_per_user,
        ),
        document=Workspace,
        **common,
    )
    shop = getattr(services, "shop", None)
    if shop is not None:
        families.shop = workspaces.shop = shop
        shop.register_payer("familyId", families.shop_payer)
        shop.register_payer("workspaceId", workspaces.shop_payer)
    services.notifications = notifications
    services.families = families
    services.workspaces = workspaces
    services.invitations = InvitationInbox({"family": families, "workspace": workspaces})
