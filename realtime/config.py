"""Configuration handed to `realtime/` by the composition root (realtime never reads settings)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RealtimeConfig:
    redis_url: str
    allowed_origins: tuple[str, ...] = field(default_factory=tuple)
    allow_missing_origin: bool = True
    ticket_ttl: int = 30
    queue_max_frames: int = 512
    max_frame_bytes: int = 64 * 1024
    max_subscriptions: int = 100
    frames_per_second: float = 50.0
    frames_burst: int = 100
    send_timeout: float = 10.0
    sse_keepalive: float = 15.0
    sse_ticket_reuse: int = 60
    sse_max_stream: float = 0.0  # 0: streams are never cut by the server
    presence_ttl: int = 30
    redis_timeout: float = 5.0
    redis_max_connections: int = 50
    subscriber_ping_interval: float = 5.0

    @property
    def heartbeat_interval(self) -> int:
        """How often clients send `presence.heartbeat`: three chances before the TTL runs out."""
        return max(1, self.presence_ttl // 3)
