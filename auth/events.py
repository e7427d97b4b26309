"""The identity context's event types, for the event catalog (type -> payload Struct)."""

from __future__ import annotations

from typing import Any

from auth.schemas import SessionRevokedEvent

EVENT_TYPES: dict[str, type[Any]] = {"session.revoked": SessionRevokedEvent}
