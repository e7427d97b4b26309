"""Settings → each area's config object. Areas never read `Settings` themselves, so a test
or a tool can build any of them from plain values."""

from __future__ import annotations

from agents.config import AgentLimits, AgentsConfig
from agents.mcp.config import McpConfig
from agents.voice.config import VoiceConfig
from auth.config import AuthConfig
from auth.email.outbox import EmailConfig
from auth.email.senders import EmailSender, FileSender, SmtpSender
from auth.security import SecurityConfig
from realtime.collab.config import CollabConfig
from realtime.config import RealtimeConfig
from server.groups.config import GroupConfig
from server.notes.rules import NotesConfig
from server.search.config import SearchConfig
from server.settings import Settings


def auth_config(settings: Settings) -> AuthConfig:
    return AuthConfig(
        secret_key=settings.secret_key,
        access_token_ttl=settings.access_token_ttl_seconds,
        refresh_token_ttl=settings.refresh_token_ttl_seconds,
        session_idle_timeout=settings.session_idle_timeout_seconds,
        refresh_grace=settings.refresh_grace_seconds,
        password_min_length=settings.password_min_length,
        login_max_failures=settings.login_max_failures,
        login_failure_window=settings.login_failure_window_seconds,
        login_account_budget=settings.login_account_budget,
        login_account_budget_window=settings.login_account_budget_window_seconds,
        auth_per_ip_per_minute=settings.rate_limit_auth_per_ip_per_minute,
        auth_per_account_per_minute=settings.rate_limit_auth_per_account_per_minute,
        register_per_ip_per_hour=settings.rate_limit_register_per_ip_per_hour,
        trusted_proxies=tuple(settings.trusted_proxies),
        hot_cache_seconds=settings.auth_hot_cache_seconds,
        rate_limit_batch=settings.rate_limit_batch,
        argon2_time_cost=settings.argon2_time_cost,
        argon2_memory_kib=settings.argon2_memory_kib,
        argon2_parallelism=settings.argon2_parallelism,
    )


def email_sender(settings: Settings) -> EmailSender:
    if settings.email_backend == "smtp":
        return SmtpSender(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            use_tls=settings.smtp_use_tls,
            timeout=settings.smtp_timeout_seconds,
        )
    return FileSender(settings.email_file_dir)


def security_config(settings: Settings) -> SecurityConfig:
    return SecurityConfig(
        email=EmailConfig(
            sender_address=settings.email_from,
            public_base_url=settings.public_base_url,
            app_name=settings.app_name,
            max_attempts=settings.email_max_attempts,
            retry_base_seconds=settings.email_retry_base_seconds,
        ),
        totp_keys=tuple(settings.totp_encryption_keys),
        totp_issuer=settings.totp_issuer or settings.app_name,
        api_token_touch_seconds=settings.api_token_touch_seconds,
        webauthn_rp_id=settings.webauthn_rp_id,
        webauthn_rp_name=settings.webauthn_rp_name,
        webauthn_origins=tuple(settings.webauthn_origins),
    )


def voice_config(settings: Settings) -> VoiceConfig:
    return VoiceConfig(
        livekit_url=settings.livekit_url,
        livekit_public_url=settings.livekit_public_url,
        livekit_api_key=settings.livekit_api_key,
        livekit_api_secret=settings.livekit_api_secret,
        agent_name=settings.voice_agent_name,
        token_ttl_seconds=settings.voice_token_ttl_seconds,
        sessions_per_minute=settings.voice_sessions_per_minute,
        deepgram_api_key=settings.deepgram_api_key,
        deepgram_base_url=settings.deepgram_base_url,
        stt_model=settings.deepgram_stt_model,
        tts_model=settings.deepgram_tts_model,
        min_endpointing_delay=settings.voice_endpointing_delay_seconds,
        approval_timeout_seconds=settings.voice_approval_timeout_seconds,
    )


def agents_config(settings: Settings) -> AgentsConfig:
    return AgentsConfig(
        ollama_url=settings.ollama_url,
        ollama_model=settings.ollama_model,
        agent_models=dict(settings.agent_models),
        connect_timeout=settings.ollama_connect_timeout_seconds,
        read_timeout=settings.ollama_timeout_seconds,
        router=settings.agent_router,
        messages_per_minute=settings.chat_messages_per_minute,
        max_message_chars=settings.chat_max_message_chars,
        limits=AgentLimits(
            max_tool_steps=settings.agent_max_tool_steps,
            tool_result_max_chars=settings.agent_tool_result_max_chars,
            context_messages=settings.agent_context_messages,
        ),
    )


def realtime_config(settings: Settings) -> RealtimeConfig:
    return RealtimeConfig(
        redis_url=settings.redis_url,
        allowed_origins=tuple(settings.ws_allowed_origins),
        allow_missing_origin=settings.ws_allow_missing_origin,
        ticket_ttl=settings.realtime_ticket_ttl_seconds,
        queue_max_frames=settings.ws_queue_max_frames,
        max_frame_bytes=settings.ws_max_frame_bytes,
        max_subscriptions=settings.ws_max_subscriptions,
        frames_per_second=settings.ws_frames_per_second,
        frames_burst=settings.ws_frames_burst,
        send_timeout=settings.ws_send_timeout_seconds,
        sse_keepalive=settings.sse_keepalive_seconds,
        sse_ticket_reuse=settings.sse_ticket_reuse_seconds,
        sse_max_stream=settings.sse_max_stream_seconds,
        presence_ttl=settings.presence_ttl_seconds,
        redis_timeout=settings.realtime_redis_timeout_seconds,
    )


def group_config(settings: Settings) -> GroupConfig:
    return GroupConfig(
        invitation_ttl_seconds=settings.invitation_ttl_seconds,
        decline_cooldown_seconds=settings.invitation_decline_cooldown_seconds,
        auto_approve_budget=settings.token_request_auto_approve_budget,
        max_open_requests=settings.token_request_max_open,
        request_ttl_seconds=settings.token_request_ttl_seconds,
        emergency_unfreeze_window_seconds=settings.emergency_unfreeze_window_seconds,
        recovery_window_seconds=settings.family_recovery_window_seconds,
    )


def notes_config(settings: Settings) -> NotesConfig:
    return NotesConfig(
        max_notes_per_space=settings.notes_max_per_space,
        max_bytes_per_space=settings.notes_max_bytes_per_space,
        max_body_bytes=settings.notes_max_body_bytes,
        event_body_max_bytes=settings.notes_event_body_max_bytes,
        trash_retention_days=settings.notes_trash_retention_days,
    )


def mcp_config(settings: Settings) -> McpConfig:
    base = settings.public_base_url.rstrip("/")
    return McpConfig(
        enabled=settings.mcp_enabled,
        resource_url=settings.mcp_resource_url or f"{base}/mcp",
        authorization_server=base,
        elicitation_timeout_seconds=settings.mcp_elicitation_timeout_seconds,
    )


def collab_config(settings: Settings) -> CollabConfig:
    return CollabConfig(
        max_message_bytes=settings.collab_max_message_bytes,
        queue_max_bytes=settings.collab_queue_max_bytes,
        compact_after=settings.collab_compact_after,
        materialise_idle_seconds=settings.collab_materialise_idle_seconds,
        awareness_timeout_seconds=settings.collab_awareness_timeout_seconds,
    )


def search_config(settings: Settings) -> SearchConfig:
    return SearchConfig(
        backend=settings.search_backend,
        embedder=settings.embedder,
        rrf_k=settings.search_rrf_k,
        lexical_weight=settings.search_lexical_weight,
        semantic_weight=settings.search_semantic_weight,
        feedback_docs=settings.search_feedback_docs,
        feedback_weight=settings.search_feedback_weight,
        feedback_max_df=settings.search_feedback_max_df,
        feedback_vector_weight=settings.search_feedback_vector_weight,
    )
