"""`open_services(settings)`: connect to MongoDB and Redis and build every manager, in
dependency order, each with its collaborators in its constructor."""

from __future__ import annotations

from bson import ObjectId
from pymongo import AsyncMongoClient
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from saq.queue.redis import RedisQueue

from agents.chat import ChatService
from agents.checkpoint import MongoCheckpointSaver
from agents.llm import OllamaFactory
from agents.voice.manager import VoiceManager
from auth.manager import AuthManager
from auth.security import build_security
from realtime.authorizers import ChannelAuthorizers
from realtime.bus import EventBus
from server.compose.catalog import DOCUMENT_MODELS
from server.compose.collab import attach_live_edits
from server.compose.config import (
    agents_config,
    auth_config,
    email_sender,
    group_config,
    notes_config,
    security_config,
    voice_config,
)
from server.compose.search import build_search
from server.compose.services import Managers, Services
from server.core.db import init_db, make_client
from server.event_catalog import event_types
from server.families.documents import Family
from server.families.manager import FamilyExtras, FamilyManager
from server.groups.inbox import InvitationInbox
from server.groups.kinds import family_kind, workspace_kind
from server.groups.manager import GroupManager
from server.memory.manager import MemoryManager
from server.notes.manager import NotesManager
from server.notes.store import NoteStore
from server.notes.uploads.manager import DocumentManager
from server.notes.vault.exporter import VaultExporter
from server.notes.vault.importer import ImportLimits, VaultImporter
from server.notifications.manager import NotificationManager
from server.notifications.wallet_hooks import WalletNotifier
from server.settings import Settings
from server.shop.manager import ShopManager
from server.spaces.manager import SpaceManager
from server.wallet.ledger import Ledger
from server.wallet.manager import WalletManager
from server.workspaces.documents import Workspace
from server.workspaces.manager import WorkspaceExtras, WorkspaceManager

QUEUE_NAME = "default"  # the SAQ queue the worker serves (server/app.py)


def open_redis(settings: Settings) -> Redis:
    # A blocking pool: past `redis_max_connections` callers wait (up to 5 s) for a connection
    # instead of failing with "Too many connections" (which loses events under load).
    redis = Redis(
        connection_pool=BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=settings.redis_max_connections,
            timeout=5,
            socket_timeout=5,
            socket_connect_timeout=5,
            health_check_interval=30,
            # Like the hub's pool: a pooled connection left stale by a Redis restart is
            # retried on a fresh one, so the first requests after Redis returns succeed
            # (issue 15, F3: 29 of 30 concurrent reads were 500s).
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
    )
    redis.auto_close_connection_pool = True
    return redis


async def group_name(owner_type: str, owner_id: ObjectId) -> str | None:
    """The name of the family or workspace that owns a wallet (for wallet notifications)."""
    collection = {"family": Family, "workspace": Workspace}.get(owner_type)
    if collection is None:
        return None
    doc = await collection.get_pymongo_collection().find_one({"_id": owner_id}, {"name": 1})
    return doc.get("name") if doc else None


class _Jobs:
    """Enqueues work for the SAQ worker on the services' own Redis client (never consumes)."""

    def __init__(self, redis: Redis) -> None:
        self._queue = RedisQueue(redis, name=QUEUE_NAME)

    async def extract_document(self, document_id: str) -> None:
        """Hand a new upload to the worker (`extract_document`; retried on failure)."""
        await self._queue.enqueue(
            "extract_document", document_id=document_id, timeout=600, retries=3, key=document_id
        )

    async def import_vault(self, import_id: str) -> None:
        """Hand a vault to the worker (`import_vault`; a retry resumes, see importer)."""
        await self._queue.enqueue(
            "import_vault", import_id=import_id, timeout=3600, retries=3, key=import_id
        )


def _register_channel_authorizers(
    authorizers: ChannelAuthorizers, families: FamilyManager, workspaces: WorkspaceManager
) -> None:
    """Who may read `family:{id}` / `workspace:{id}` (`user:{id}` is built in)."""
    for prefix, groups in (("family", families), ("workspace", workspaces)):
        authorizers.register_channel_authorizer(
            prefix,
            groups.is_member,
            presence=True,
            recheck_on={f"{prefix}.member_removed", f"{prefix}.deleted"},
            scope=f"{groups.kind.scope_area}:read",
        )


async def open_services(settings: Settings) -> Services:
    """Connect to MongoDB and Redis and build every manager."""
    mongo: AsyncMongoClient[dict[str, object]] = make_client(settings.mongodb_url)
    await init_db(mongo, settings.mongodb_db, DOCUMENT_MODELS)
    redis = open_redis(settings)
    bus = EventBus(
        redis,
        stream_maxlen=settings.event_stream_maxlen,
        catalog=event_types(),
        strict=settings.events_strict,
    )

    # auth/
    auth = AuthManager(mongo=mongo, redis=redis, bus=bus, config=auth_config(settings))
    security = build_security(auth, redis, security_config(settings), email_sender(settings))

    # server/wallet and the shop
    ledger = Ledger(mongo=mongo, bus=bus, busy_seconds=settings.ledger_busy_seconds)
    wallet = WalletManager(
        ledger=ledger,
        mongo=mongo,
        idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
        require_verified_email=settings.wallet_require_verified_email,
        reward_secret=settings.reward_webhook_secret,
    )
    auth.add_user_created_hook(wallet.on_user_created)
    shop = ShopManager(mongo=mongo, wallet=wallet, ledger=ledger, bus=bus)

    # notifications, families, workspaces
    notifications = NotificationManager(mongo=mongo, bus=bus)
    wallet_notifier = WalletNotifier(notifications, group_name=group_name)
    ledger.add_moved_hook(wallet_notifier.on_moved)
    ledger.add_frozen_hook(wallet_notifier.on_frozen)
    groups_config = group_config(settings)
    families = GroupManager.build(
        FamilyExtras,
        kind=family_kind(
            max_members=settings.family_max_members, max_per_user=settings.family_max_per_user
        ),
        document=Family,
        mongo=mongo,
        bus=bus,
        notifications=notifications,
        ledger=ledger,
        wallet=wallet,
        shop=shop,
        config=groups_config,
    )
    workspaces = GroupManager.build(
        WorkspaceExtras,
        kind=workspace_kind(
            max_members=settings.workspace_max_members,
            max_per_user=settings.workspace_max_per_user,
        ),
        document=Workspace,
        mongo=mongo,
        bus=bus,
        notifications=notifications,
        ledger=ledger,
        wallet=wallet,
        shop=shop,
        config=groups_config,
    )
    shop.register_payer("familyId", families.shop_payer)
    shop.register_payer("workspaceId", workspaces.shop_payer)

    # spaces and notes: a space is created with its owner (registration, group creation)
    spaces = SpaceManager()
    store = NoteStore(mongo=mongo, bus=bus, spaces=spaces, config=notes_config(settings))
    auth.add_user_created_hook(spaces.on_user_created)
    families.created_hooks.append(spaces.on_group_created)
    workspaces.created_hooks.append(spaces.on_group_created)
    jobs = _Jobs(redis)
    notes = NotesManager(store)
    search = build_search(settings, redis, spaces, notes)

    managers = Managers(
        auth=auth,
        sessions=auth.sessions,
        audit=auth.audit,
        api_tokens=security.api_tokens,
        totp=security.totp,
        webauthn=security.webauthn,
        account=security.account,
        lockdown=security.lockdown,
        wallet=wallet,
        shop=shop,
        notifications=notifications,
        families=families,
        workspaces=workspaces,
        invitations=InvitationInbox({"family": families, "workspace": workspaces}),
        spaces=spaces,
        notes=notes,
        documents=DocumentManager(
            store, max_bytes=settings.notes_upload_max_bytes, enqueue=jobs.extract_document
        ),
        vault_import=VaultImporter(
            store,
            ImportLimits(
                max_bytes=settings.notes_import_max_bytes,
                max_files=settings.notes_import_max_files,
                max_expanded_bytes=settings.notes_import_max_expanded_bytes,
            ),
            enqueue=jobs.import_vault,
        ),
        vault_export=VaultExporter(store),
        search=search.manager,
        memories=MemoryManager(mongo=mongo, bus=bus, embedder=search.manager.embedder),
    )

    attach_live_edits(managers.notes, redis)

    # agents/: the chat acts through the managers only
    config = agents_config(settings)
    checkpointer = MongoCheckpointSaver(mongo[settings.mongodb_db], redis=redis)
    await checkpointer.setup()
    chat = ChatService(
        managers=managers,
        config=config,
        llm_factory=OllamaFactory(config),
        checkpointer=checkpointer,
        redis=redis,
    )
    authorizers = ChannelAuthorizers()
    _register_channel_authorizers(authorizers, families, workspaces)
    return Services(
        auth=managers.auth,
        sessions=managers.sessions,
        audit=managers.audit,
        api_tokens=managers.api_tokens,
        totp=managers.totp,
        webauthn=managers.webauthn,
        account=managers.account,
        lockdown=managers.lockdown,
        wallet=managers.wallet,
        shop=managers.shop,
        notifications=managers.notifications,
        families=managers.families,
        workspaces=managers.workspaces,
        invitations=managers.invitations,
        spaces=managers.spaces,
        notes=managers.notes,
        documents=managers.documents,
        vault_import=managers.vault_import,
        vault_export=managers.vault_export,
        search=managers.search,
        memories=managers.memories,
        mongo=mongo,
        redis=redis,
        bus=bus,
        ledger=ledger,
        outbox=security.outbox,
        one_time_tokens=security.one_time_tokens,
        channel_authorizers=authorizers,
        search_indexer=search.indexer,
        chat=chat,
        voice=VoiceManager(
            redis=redis, bus=bus, config=voice_config(settings), approvals=chat.approvals
        ),
    )
