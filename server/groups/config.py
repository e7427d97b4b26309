"""Timing and limits for groups (read from Settings by the composition root)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GroupConfig:
    invitation_ttl_seconds: int = 7 * 24 * 3600
    decline_cooldown_seconds: int = 24 * 3600
    auto_approve_budget: int = 100  # per member and month; 0 for no_budget_roles
    max_open_requests: int = 10  # pending token/purchase requests per member and group
    request_ttl_seconds: int = 7 * 24 * 3600
    emergency_unfreeze_window_seconds: int = 48 * 3600
    recovery_window_seconds: int = 72 * 3600
