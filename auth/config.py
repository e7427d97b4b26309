"""Configuration handed to `auth/` by the composition root (auth never reads settings)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class AuthConfig:
    secret_key: str
    access_token_ttl: int = 15 * 60
    refresh_token_ttl: int = 30 * 24 * 3600
    session_idle_timeout: int = 7 * 24 * 3600
    refresh_grace: int = 10  # seconds a just-rotated refresh token gets the same successor
    password_min_length: int = 12
    login_max_failures: int = 5
    login_failure_window: int = 15 * 60
    login_max_delay: int = 15 * 60
    login_account_budget: int = 100  # failed logins per account (all IPs) per window; 0 = off
    login_account_budget_window: int = 3600
    auth_per_ip_per_minute: int = 30
    auth_per_account_per_minute: int = 60
    register_per_ip_per_hour: int = 20
    trusted_proxies: tuple[str, ...] = field(default_factory=tuple)
    jwt_issuer: str = "second-brain"
    hot_cache_seconds: float = 2.0
    rate_limit_batch: int = 32
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
