"""Settings of live editing, handed over by the composition root (docs/settings.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CollabConfig:
    max_message_bytes: int = 4 * 1024 * 1024
    queue_max_bytes: int = 16 * 1024 * 1024
    compact_after: int = 5000
    materialise_idle_seconds: float = 2.0
    awareness_timeout_seconds: float = 30.0
    store_retries: int = 3
