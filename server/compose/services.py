"""The process-wide composition: connections and managers, opened once and shared.

Built by `server.compose.build.open_services` for the api lifespan, the SAQ worker, the CLI
and the voice worker alike, so all of them reach the domain through the same managers.
Every field is required and typed: there is no "filled in later".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from agents.chat import ChatService
from agents.voice.manager import VoiceManager
from auth.account.manager import AccountManager
from auth.api_tokens.manager import ApiTokenManager
from auth.audit.manager import AuditLog
from auth.email.outbox import Outbox
from auth.lockdown.manager import LockdownManager
from auth.manager import AuthManager
from auth.onetime import OneTimeTokens
from auth.sessions import Sessions
from auth.totp.manager import TotpManager
from auth.webauthn.manager import WebAuthnManager
from realtime.authorizers import ChannelAuthorizers
from realtime.bus import EventBus
from server.families.manager import FamilyManager
from server.groups.inbox import InvitationInbox
from server.memory.manager import MemoryManager
from server.notes.manager import NotesManager
from server.notes.uploads.manager import DocumentManager
from server.notes.vault.exporter import VaultExporter
from server.notes.vault.importer import VaultImporter
from server.notifications.manager import NotificationManager
from server.search.indexer import ChunkIndexer
from server.search.manager import SearchManager
from server.shop.manager import ShopManager
from server.spaces.manager import SpaceManager
from server.wallet.ledger import Ledger
from server.wallet.manager import WalletManager
from server.workspaces.manager import WorkspaceManager


@dataclass(frozen=True, slots=True)
class Managers:
    """The domain's write paths: what routes, agent tools, voice and the CLI act through.

    No connections and no trusted ledger here: a tool holding `Managers` cannot move money
    except through a manager that checks who may.
    """

    auth: AuthManager
    sessions: Sessions
    audit: AuditLog
    api_tokens: ApiTokenManager
    totp: TotpManager
    webauthn: WebAuthnManager
    account: AccountManager
    lockdown: LockdownManager
    wallet: WalletManager
    shop: ShopManager
    notifications: NotificationManager
    families: FamilyManager
    workspaces: WorkspaceManager
    invitations: InvitationInbox
    spaces: SpaceManager
    notes: NotesManager
    documents: DocumentManager
    vault_import: VaultImporter
    vault_export: VaultExporter
    search: SearchManager
    memories: MemoryManager


@dataclass(frozen=True, slots=True)
class Services(Managers):
    """`Managers` plus what only the composition root and jobs hold: the connections, the
    trusted ledger, the e-mail outbox, the channel authorizers, the chat and voice agents."""

    mongo: AsyncMongoClient[Any]
    redis: Redis
    bus: EventBus
    ledger: Ledger
    outbox: Outbox
    one_time_tokens: OneTimeTokens
    channel_authorizers: ChannelAuthorizers
    search_indexer: ChunkIndexer  # the worker's `index_note` job
    chat: ChatService
    voice: VoiceManager

    async def close(self) -> None:
        await self.ledger.hooks.drain()  # post-commit hooks (notifications) finish first
        await self.redis.aclose()
        await self.mongo.close()
