"""All configuration, read once from the environment (every variable: docs/settings.md)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me-0123456789"


class Settings(BaseSettings):
    """Every variable is documented in docs/settings.md; names are the upper-cased field names."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    environment: Literal["development", "test", "production"] = "development"
    app_name: str = "Second Brain"
    log_level: str = "INFO"

    mongodb_url: str = "mongodb://127.0.0.1:27018/?directConnection=true"
    mongodb_db: str = "second_brain"
    redis_url: str = "redis://127.0.0.1:6380/0"

    secret_key: str = DEFAULT_SECRET_KEY
    access_token_ttl_seconds: int = Field(default=15 * 60, ge=30)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=60)
    password_min_length: int = Field(default=12, ge=8)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65536, ge=1024)
    argon2_parallelism: int = Field(default=4, ge=1)

    login_max_failures: int = 5
    login_failure_window_seconds: int = 15 * 60
    login_account_budget: int = Field(default=100, ge=0)
    login_account_budget_window_seconds: int = Field(default=3600, ge=60)
    rate_limit_auth_per_ip_per_minute: int = 30
    rate_limit_register_per_ip_per_hour: int = 20

    request_max_body_bytes: int = 1024 * 1024
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000"]
    )
    ws_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:3000"]
    )
    ws_allow_missing_origin: bool = True
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    event_stream_maxlen: int = Field(default=1000, ge=10)
    events_strict: bool = True
    session_cleanup_cron: str = "*/15 * * * *"

    # Real-time delivery (issue 5): see docs/realtime.md.
    realtime_ticket_ttl_seconds: int = Field(default=30, ge=1, le=300)
    ws_queue_max_frames: int = Field(default=512, ge=8)
    ws_max_frame_bytes: int = Field(default=64 * 1024, ge=1024)
    ws_per_message_deflate: bool = False
    ws_max_subscriptions: int = Field(default=100, ge=1)
    ws_frames_per_second: float = Field(default=50.0, gt=0)
    ws_frames_burst: int = Field(default=100, ge=1)
    ws_send_timeout_seconds: float = Field(default=10.0, gt=0)
    sse_keepalive_seconds: float = Field(default=15.0, gt=0)
    sse_ticket_reuse_seconds: int = Field(default=60, ge=0, le=3600)
    sse_max_stream_seconds: float = Field(default=0.0, ge=0)
    presence_ttl_seconds: int = Field(default=30, ge=3)
    realtime_redis_timeout_seconds: float = Field(default=5.0, gt=0)

    ollama_url: str = "http://127.0.0.1:11434"
    ollama_model: str = "llama3.1"
    # AI agents and chat (issue 7): see docs/agents.md.
    ollama_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    ollama_timeout_seconds: float = Field(default=120.0, gt=0)
    agent_models: dict[str, str] = Field(default_factory=dict)
    # Search (issue 13): see docs/search.md.
    embedder: Literal["wordllama", "ollama"] = "wordllama"
    search_backend: Literal["embedded", "mongodb"] = "embedded"
    ollama_embed_model: str = "nomic-embed-text"
    ollama_embed_dim: int = Field(default=768, ge=8)
    ollama_embed_timeout_seconds: float = Field(default=60.0, gt=0)
    search_rrf_k: int = Field(default=60, ge=1)
    search_lexical_weight: float = Field(default=1.0, ge=0)
    search_semantic_weight: float = Field(default=1.3, ge=0)
    search_feedback_docs: int = Field(default=5, ge=0, le=50)
    search_feedback_weight: float = Field(default=0.3, ge=0)
    search_feedback_max_df: float = Field(default=0.05, gt=0, le=1)
    search_feedback_vector_weight: float = Field(default=0.7, ge=0)
    agent_router: Literal["llm", "keywords"] = "llm"
    chat_messages_per_minute: int = Field(default=20, ge=1)
    chat_max_message_chars: int = Field(default=10_000, ge=1)
    agent_max_tool_steps: int = Field(default=6, ge=1, le=50)
    agent_tool_result_max_chars: int = Field(default=4000, ge=200)
    agent_context_messages: int = Field(default=40, ge=2)
    # MCP server and AI SDK stream (issue 17): see docs/mcp.md.
    mcp_enabled: bool = True
    mcp_resource_url: str = ""  # the public URL of /mcp; empty = PUBLIC_BASE_URL + "/mcp"
    mcp_elicitation_timeout_seconds: float = Field(default=120.0, gt=0)
    gc_freeze_after_startup: bool = True
    livekit_url: str = ""
    livekit_api_key: str = ""
    livekit_api_secret: str = ""
    deepgram_api_key: str = ""
    deepgram_base_url: str = ""
    # Voice agent (issue 8): see docs/voice.md.
    livekit_public_url: str = ""  # what clients connect to; empty = LIVEKIT_URL
    voice_agent_name: str = "second-brain-voice"
    voice_token_ttl_seconds: int = Field(default=300, ge=30, le=3600)
    voice_sessions_per_minute: int = Field(default=10, ge=1)
    voice_approval_timeout_seconds: float = Field(default=120.0, gt=0)
    voice_endpointing_delay_seconds: float = Field(default=0.5, ge=0)
    voice_metrics_port: int = Field(default=9464, ge=0)
    deepgram_stt_model: str = "nova-3"
    deepgram_tts_model: str = "aura-2-andromeda-en"

    email_backend: Literal["file", "smtp"] = "file"
    email_from: str = "Second Brain <no-reply@localhost>"
    email_file_dir: str = ".data/mail"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    public_base_url: str = "http://localhost:8000"

    # Wallet and shop (issue 3).
    reward_webhook_secret: str = ""
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=24 * 3600)
    wallet_require_verified_email: bool = True
    # A ledger transaction conflicting this long answers 503 WALLET_BUSY (issue 15, F7).
    ledger_busy_seconds: float = Field(default=10.0, gt=0, le=60)
    shop_rental_sweep_cron: str = "* * * * *"
    redis_max_connections: int = Field(default=256, ge=8)

    # Security depth (issue 6): see docs/auth.md.
    rate_limit_auth_per_account_per_minute: int = 60
    refresh_grace_seconds: int = Field(default=10, ge=0, le=60)
    # Hot paths (issue 18): see docs/benchmarks.md and docs/auth.md.
    auth_hot_cache_seconds: float = Field(default=2.0, ge=0, le=60)
    rate_limit_batch: int = Field(default=32, ge=1, le=100)
    session_idle_timeout_seconds: int = Field(default=7 * 24 * 3600, ge=300)
    totp_encryption_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    totp_issuer: str = ""
    api_token_touch_seconds: int = Field(default=60, ge=0)
    webauthn_rp_id: str = "localhost"
    webauthn_rp_name: str = "Second Brain"
    webauthn_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://localhost:8000", "http://localhost:3000"]
    )
    email_max_attempts: int = Field(default=6, ge=1)
    email_retry_base_seconds: int = Field(default=30, ge=1)
    email_drain_cron: str = "* * * * *"
    smtp_use_tls: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    hsts_max_age_seconds: int = Field(default=63072000, ge=0)

    @field_validator("totp_encryption_keys", "webauthn_origins", mode="before")
    @classmethod
    def _split_security_csv(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    # Families, workspaces, notifications (issue 4): see docs/groups.md.
    family_max_members: int = Field(default=12, ge=2)
    family_max_per_user: int = Field(default=3, ge=1)
    workspace_max_members: int = Field(default=50, ge=2)
    workspace_max_per_user: int = Field(default=20, ge=1)
    invitation_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    invitation_decline_cooldown_seconds: int = Field(default=24 * 3600, ge=0)
    token_request_auto_approve_budget: int = Field(default=100, ge=0)
    token_request_max_open: int = Field(default=10, ge=1)
    token_request_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    emergency_unfreeze_window_seconds: int = Field(default=48 * 3600, ge=60)
    family_recovery_window_seconds: int = Field(default=72 * 3600, ge=60)
    group_sweep_cron: str = "*/5 * * * *"

    # Spaces and notes (issue 12): see docs/notes.md.
    notes_max_per_space: int = Field(default=10_000, ge=1)
    notes_max_bytes_per_space: int = Field(default=500 * 1024 * 1024, ge=1024)
    notes_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    notes_event_body_max_bytes: int = Field(default=16 * 1024, ge=0)
    notes_trash_retention_days: int = Field(default=30, ge=1)
    notes_trash_purge_cron: str = "23 * * * *"
    notes_upload_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    notes_import_max_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    notes_import_max_files: int = Field(default=10_000, ge=1)
    notes_import_max_expanded_bytes: int = Field(default=500 * 1024 * 1024, ge=1024)

    # Live co-editing of notes (docs/collab.md)
    collab_max_message_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    collab_queue_max_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)
    collab_compact_after: int = Field(default=5000, ge=1)
    collab_materialise_idle_seconds: float = Field(default=2.0, gt=0)
    collab_awareness_timeout_seconds: float = Field(default=30.0, gt=0)

    @field_validator("cors_origins", "ws_allowed_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        """Accept `a,b,c` as well as a JSON list in the environment."""
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> Settings:
        if self.environment == "production" and (
            self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < 32
        ):
            raise ValueError(
                "SECRET_KEY must be set to a random value of at least 32 characters "
                "when ENVIRONMENT=production"
            )
        return self
