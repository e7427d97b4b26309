"""What the app is made of: every Beanie document, every route handler, every event type.

Listed once here so the api, the worker and the tests (`DOCUMENT_MODELS`) agree."""

from __future__ import annotations

from typing import Any

from litestar.plugins.prometheus import PrometheusController
from litestar.types import ControllerRouterHandler

from agents.documents import AGENT_DOCUMENT_MODELS
from agents.routes import ROUTE_HANDLERS as AGENT_ROUTES
from agents.voice.routes import VoiceController
from agents.voice.schemas import EVENT_TYPES as VOICE_EVENTS
from auth.documents import AuthSession, User
from auth.routes import AuthController
from auth.schemas import SessionRevokedEvent
from auth.security import security_controllers, security_documents
from realtime.gateway import realtime_socket
from realtime.routes import RealtimeController, asyncapi_document
from realtime.sse import event_stream
from server.families.documents import Family, Relationship
from server.families.events import EVENT_TYPES as FAMILY_EVENTS
from server.families.routes import ROUTE_HANDLERS as FAMILY_ROUTES
from server.groups.documents import GROUP_DOCUMENTS
from server.groups.routes import InvitationInboxController
from server.health import HealthController
from server.notes.documents import Note, NoteRevision
from server.notes.events import EVENT_TYPES as NOTE_EVENTS
from server.notes.routes import ROUTE_HANDLERS as NOTE_ROUTES
from server.notes.uploads.documents import UploadedDocument
from server.notes.uploads.routes import DocumentController
from server.notes.uploads.schemas import EVENT_TYPES as DOCUMENT_EVENTS
from server.notes.vault.documents import Attachment, VaultImport
from server.notes.vault.routes import VaultController
from server.notes.vault.schemas import EVENT_TYPES as IMPORT_EVENTS
from server.notifications.documents import Notification, NotificationPreference
from server.notifications.events import EVENT_TYPES as NOTIFICATION_EVENTS
from server.notifications.routes import NotificationController
from server.shop.documents import Ownership, Purchase, ShopItem
from server.shop.routes import ShopController
from server.spaces.documents import Space
from server.wallet.documents import Account, IdempotencyRecord, Transfer
from server.wallet.events import EVENT_TYPES as WALLET_EVENTS
from server.wallet.routes import AdminWalletController, WalletController
from server.workspaces.documents import Workspace
from server.workspaces.events import EVENT_TYPES as WORKSPACE_EVENTS
from server.workspaces.routes import ROUTE_HANDLERS as WORKSPACE_ROUTES

DOCUMENT_MODELS: list[Any] = [
    User,
    AuthSession,
    *security_documents(),
    Account,
    Transfer,
    IdempotencyRecord,
    ShopItem,
    Ownership,
    Purchase,
    Family,
    Workspace,
    Relationship,
    *GROUP_DOCUMENTS,
    Notification,
    NotificationPreference,
    *AGENT_DOCUMENT_MODELS,
    Space,
    Note,
    NoteRevision,
    UploadedDocument,
    VaultImport,
    Attachment,
]

ROUTE_HANDLERS: list[ControllerRouterHandler] = [
    HealthController,
    PrometheusController,
    AuthController,
    *security_controllers(),
    WalletController,
    AdminWalletController,
    ShopController,
    *FAMILY_ROUTES,
    *WORKSPACE_ROUTES,
    InvitationInboxController,
    NotificationController,
    *NOTE_ROUTES,
    DocumentController,
    VaultController,
    *AGENT_ROUTES,
    VoiceController,
    RealtimeController,
    realtime_socket,
    event_stream,
    asyncapi_document,
]


def event_types() -> dict[str, type]:
    """Every event type with its payload Struct, for the AsyncAPI document."""
    return {
        "session.revoked": SessionRevokedEvent,
        **WALLET_EVENTS,
        **FAMILY_EVENTS,
        **WORKSPACE_EVENTS,
        **NOTIFICATION_EVENTS,
        **VOICE_EVENTS,
        **NOTE_EVENTS,
        **DOCUMENT_EVENTS,
        **IMPORT_EVENTS,
    }
