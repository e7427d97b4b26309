"""Litestar dependencies: each controller receives its own manager by parameter name.

The one place a request reaches `Services` (in `app.state`); a controller never reaches a
manager through another manager's attribute.
"""

from __future__ import annotations

from litestar.datastructures import State
from litestar.di import Provide

from agents.chat import ChatService
from agents.voice.manager import VoiceManager
from auth.account.manager import AccountManager
from auth.api_tokens.manager import ApiTokenManager
from auth.audit.manager import AuditLog
from auth.dependencies import AUTH_DEPENDENCIES
from auth.lockdown.manager import LockdownManager
from auth.sessions import Sessions
from auth.totp.manager import TotpManager
from auth.webauthn.manager import WebAuthnManager
from server.compose.services import Services
from server.families.manager import FamilyManager
from server.groups.inbox import InvitationInbox
from server.notes.manager import NotesManager
from server.notes.uploads.manager import DocumentManager
from server.notes.vault.exporter import VaultExporter
from server.notes.vault.importer import VaultImporter
from server.notifications.manager import NotificationManager
from server.search.manager import SearchManager
from server.shop.manager import ShopManager
from server.spaces.manager import SpaceManager
from server.wallet.manager import WalletManager
from server.workspaces.manager import WorkspaceManager

SERVICES_STATE_KEY = "services"


def services_of(state: State) -> Services:
    services = state[SERVICES_STATE_KEY]
    if not isinstance(services, Services):
        raise RuntimeError("the app's services are not open (outside the lifespan?)")
    return services


def provide_sessions(state: State) -> Sessions:
    return services_of(state).sessions


def provide_audit(state: State) -> AuditLog:
    return services_of(state).audit


def provide_api_tokens(state: State) -> ApiTokenManager:
    return services_of(state).api_tokens


def provide_totp(state: State) -> TotpManager:
    return services_of(state).totp


def provide_webauthn(state: State) -> WebAuthnManager:
    return services_of(state).webauthn


def provide_account(state: State) -> AccountManager:
    return services_of(state).account


def provide_lockdown(state: State) -> LockdownManager:
    return services_of(state).lockdown


def provide_wallet(state: State) -> WalletManager:
    return services_of(state).wallet


def provide_shop(state: State) -> ShopManager:
    return services_of(state).shop


def provide_notifications(state: State) -> NotificationManager:
    return services_of(state).notifications


def provide_families(state: State) -> FamilyManager:
    return services_of(state).families


def provide_workspaces(state: State) -> WorkspaceManager:
    return services_of(state).workspaces


def provide_inbox(state: State) -> InvitationInbox:
    return services_of(state).invitations


def provide_spaces(state: State) -> SpaceManager:
    return services_of(state).spaces


def provide_notes(state: State) -> NotesManager:
    return services_of(state).notes


def provide_documents(state: State) -> DocumentManager:
    return services_of(state).documents


def provide_importer(state: State) -> VaultImporter:
    return services_of(state).vault_import


def provide_exporter(state: State) -> VaultExporter:
    return services_of(state).vault_export


def provide_search(state: State) -> SearchManager:
    return services_of(state).search


def provide_chat(state: State) -> ChatService:
    return services_of(state).chat


def provide_voice(state: State) -> VoiceManager:
    return services_of(state).voice


_PROVIDERS = {
    "sessions": provide_sessions,
    "audit": provide_audit,
    "api_tokens": provide_api_tokens,
    "totp": provide_totp,
    "webauthn": provide_webauthn,
    "account": provide_account,
    "lockdown": provide_lockdown,
    "wallet": provide_wallet,
    "shop": provide_shop,
    "notifications": provide_notifications,
    "families": provide_families,
    "workspaces": provide_workspaces,
    "inbox": provide_inbox,
    "spaces": provide_spaces,
    "notes": provide_notes,
    "documents": provide_documents,
    "importer": provide_importer,
    "exporter": provide_exporter,
    "search": provide_search,
    "chat": provide_chat,
    "voice": provide_voice,
}

DEPENDENCIES: dict[str, Provide] = {
    **AUTH_DEPENDENCIES,
    **{name: Provide(fn, sync_to_thread=False) for name, fn in _PROVIDERS.items()},
}
