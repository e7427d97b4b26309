"""What the app is made of: every Beanie document and every route handler (event types:
`server/event_catalog.py`). Listed once here so the api, the worker and the tests agree."""

from __future__ import annotations

from typing import Any

from litestar.plugins.prometheus import PrometheusController
from litestar.types import ControllerRouterHandler

from agents.documents import AGENT_DOCUMENT_MODELS
from agents.mcp.routes import MCP_ROUTE_HANDLERS
from agents.routes import ROUTE_HANDLERS as AGENT_ROUTES
from agents.voice.routes import VoiceController
from auth.documents import AuthSession, User
from auth.routes import AuthController
from auth.security import security_controllers, security_documents
from realtime.collab.documents import COLLAB_DOCUMENT_MODELS
from realtime.collab.endpoint import collab_socket
from realtime.gateway import realtime_socket
from realtime.routes import RealtimeController, asyncapi_document
from realtime.sse import event_stream
from server.families.documents import Family, Relationship
from server.families.routes import ROUTE_HANDLERS as FAMILY_ROUTES
from server.groups.documents import GROUP_DOCUMENTS
from server.groups.routes import InvitationInboxController
from server.health import HealthController
from server.memory.documents import Memory
from server.memory.routes import MemoryController
from server.notes.documents import Note, NoteRevision
from server.notes.routes import ROUTE_HANDLERS as NOTE_ROUTES
from server.notes.uploads.documents import UploadedDocument
from server.notes.uploads.routes import DocumentController
from server.notes.vault.documents import Attachment, VaultImport
from server.notes.vault.routes import VaultController
from server.notifications.documents import Notification, NotificationPreference, UnreadCounter
from server.notifications.routes import NotificationController
from server.search.documents import SearchChunk
from server.search.routes import SearchController
from server.shop.documents import Ownership, Purchase, ShopItem
from server.shop.routes import ShopController
from server.spaces.documents import Space
from server.wallet.documents import Account, IdempotencyRecord, Transfer
from server.wallet.routes import AdminWalletController, WalletController
from server.workspaces.documents import Workspace
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
    UnreadCounter,
    *AGENT_DOCUMENT_MODELS,
    Space,
    Note,
    NoteRevision,
    UploadedDocument,
    VaultImport,
    Attachment,
    *COLLAB_DOCUMENT_MODELS,
    SearchChunk,
    Memory,
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
    SearchController,
    MemoryController,
    *AGENT_ROUTES,
    *MCP_ROUTE_HANDLERS,
    VoiceController,
    RealtimeController,
    realtime_socket,
    collab_socket,
    event_stream,
    asyncapi_document,
]
