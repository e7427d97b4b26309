"""Event checks for every event-producing manager (not a test module).

The verify-action idea (Zulip's) beyond the groups: remember the offsets of the channels a
test watches, run one action, then read exactly what each channel heard, every payload
checked against its published schema. `settled` first, so post-commit work (the wallet's
notification hooks) is included.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from auth.schemas import SessionRevokedEvent
from server.shop.events import EVENT_TYPES as SHOP_EVENTS
from tests.helpers import services, settled
from tests.integration.verify_support import SCHEMAS, check_schema

SCHEMAS.update(SHOP_EVENTS)
SCHEMAS["session.revoked"] = SessionRevokedEvent


class Heard:
    """`async with Heard(client, channels) as heard:` ... `heard.types(channel)`."""

    def __init__(self, client: httpx.AsyncClient, channels: list[str]) -> None:
        self.client = client
        self.channels = channels
        self.events: dict[str, list[dict[str, Any]]] = {}

    async def __aenter__(self) -> Heard:
        bus = services(self.client).bus
        self._since = {ch: (await bus.position(ch))[1] for ch in self.channels}
        return self

    async def __aexit__(self, *exc: object) -> None:
        await settled(self.client)
        bus = services(self.client).bus
        for ch in self.channels:
            raws = await bus.read_since(ch, self._since[ch])
            self.events[ch] = [json.loads(raw) for raw in raws]
            for event in self.events[ch]:
                check_schema(event)

    def types(self, channel: str) -> list[str]:
        return [e["type"] for e in self.events[channel]]
