"""The process-wide services: connections and managers, opened once and shared.

Built by the composition root (`server/app.py`) for the api lifespan, the SAQ worker and the
CLI alike, so all three reach the domain through the same managers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from auth.manager import AuthManager
from realtime.authorizers import ChannelAuthorizers
from realtime.bus import EventBus
from server.shop.manager import ShopManager
from server.wallet.ledger import Ledger
from server.wallet.manager import WalletManager


@dataclass
class Services:
    mongo: AsyncMongoClient[Any]
    redis: Redis
    bus: EventBus
    auth: AuthManager
    # The trusted ledger: for managers and the composition root, never for routes or tools
    # (they hold `wallet`, the facade without `move`/`freeze_account`/`open_account`).
    ledger: Ledger
    wallet: WalletManager
    shop: ShopManager

    # Families, workspaces, invitations, notifications (issue 4): set by
    # server.groups.wiring.attach_groups.
    families: Any = None
    workspaces: Any = None
    invitations: Any = None
    notifications: Any = None

    # Spaces and notes (issue 12): set by server.notes.wiring.attach_notes.
    spaces: Any = None
    notes: Any = None
    documents: Any = None
    vault_import: Any = None
    vault_export: Any = None

    # Search (issue 13): set by server.search.wiring.attach_search.
    search: Any = None
    search_indexer: Any = None
    memories: Any = None

    # Chat agents (issue 7): the ChatService, set by agents.wiring.attach_agents.
    chat: Any = None

    # Who may read which real-time channel (issue 5); domains register in server/app.py.
    channel_authorizers: ChannelAuthorizers = field(default_factory=ChannelAuthorizers)

    async def close(self) -> None:
        await self.ledger.hooks.drain()  # post-commit hooks (notifications) finish first
        await self.redis.aclose()
        await self.mongo.close()
