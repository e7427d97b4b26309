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
from server.wallet.manager import WalletManager


@dataclass
class Services:
    mongo: AsyncMongoClient[Any]
    redis: Redis
    bus: EventBus
    auth: AuthManager
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

    # Chat agents (issue 7): the ChatService, set by agents.wiring.attach_agents.
    chat: Any = None

    # Who may read which real-time channel (issue 5); domains register in server/app.py.
    channel_authorizers: ChannelAuthorizers = field(default_factory=ChannelAuthorizers)

    async def close(self) -> None:
        await self.redis.aclose()
        await self.mongo.close()
