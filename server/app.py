"""The composition root: reads settings, opens services, wires every domain into one app."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.plugins.prometheus import PrometheusController
from litestar_saq import CronJob, QueueConfig, SAQConfig
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agents.config import AgentLimits, AgentsConfig
from agents.mcp.config import McpConfig
from agents.mcp.routes import MCP_ROUTE_HANDLERS, MCP_STATE_KEY
from agents.mcp.server import McpServer
from agents.tools import REGISTRY
from agents.voice.config import VoiceConfig
from agents.voice.manager import VoiceManager
from agents.voice.routes import VOICE_STATE_KEY, VoiceController
from agents.wiring import (
    AGENT_DOCUMENT_MODELS,
    AGENT_ROUTE_HANDLERS,
    attach_agents,
    llm_health_check,
)
from auth.config import AuthConfig
from auth.dependencies import AUTH_DEPENDENCIES, AUTH_MANAGER_STATE_KEY
from auth.documents import AuthSession, User
from auth.email.outbox import EmailConfig
from auth.email.senders import EmailSender, FileSender, SmtpSender
from auth.manager import AuthManager
from auth.routes import AuthController
from auth.security import (
    SecurityConfig,
    attach_security,
    security_controllers,
    security_documents,
)
from realtime.asyncapi import build_asyncapi
from realtime.bus import EventBus
from realtime.collab.documents import COLLAB_DOCUMENT_MODELS
from realtime.collab.endpoint import COLLAB_STATE_KEY, collab_socket
from realtime.config import RealtimeConfig
from realtime.gateway import HUB_STATE_KEY, realtime_socket
from realtime.hub import RealtimeHub
from realtime.routes import ASYNCAPI_STATE_KEY, RealtimeController, asyncapi_document
from realtime.sse import event_stream
from server import jobs
from server.cli import ServerCLIPlugin
from server.collab_wiring import attach_live_edits, open_rooms
from server.core.db import init_db, make_client
from server.core.degraded import DEGRADED_HANDLERS
from server.core.errors import EXCEPTION_HANDLERS
from server.event_catalog import event_types as catalog_event_types
from server.groups.wiring import (
    GROUP_DOCUMENT_MODELS,
    GROUP_ROUTE_HANDLERS,
    attach_groups,
)
from server.health import HEALTH_CHECKS_STATE_KEY, HealthController
from server.logging_setup import configure_logging
from server.memory.documents import Memory
from server.memory.manager import MemoryManager
from server.memory.routes import MemoryController
from server.metrics import RequestMetricsMiddleware
from server.middleware import RequestIdMiddleware
from server.notes.wiring import NOTE_DOCUMENT_MODELS, NOTE_ROUTE_HANDLERS, attach_notes
from server.openapi import contract_render_plugins
from server.search.wiring import (
    SEARCH_DOCUMENT_MODELS,
    SEARCH_ROUTE_HANDLERS,
    attach_search,
    embeddings_health_check,
)
from server.security_headers import SecurityHeadersMiddleware
from server.services import Services
from server.settings import Settings
from server.shop.documents import Ownership, Purchase, ShopItem
from server.shop.manager import ShopManager
from server.shop.routes import ShopController
from server.wallet.documents import Account, IdempotencyRecord, Transfer
from server.wallet.ledger import Ledger
from server.wallet.manager import WalletManager
from server.wallet.routes import AdminWalletController, WalletController

log = logging.getLogger("server.app")

DOCUMENT_MODELS: list[Any] = [User, AuthSession]
DOCUMENT_MODELS += [Account, Transfer, IdempotencyRecord]
DOCUMENT_MODELS += [ShopItem, Ownership, Purchase]
DOCUMENT_MODELS += security_documents()
SECURITY_CONTROLLERS: list[Any] = security_controllers()
DOCUMENT_MODELS += GROUP_DOCUMENT_MODELS
DOCUMENT_MODELS += AGENT_DOCUMENT_MODELS
DOCUMENT_MODELS += NOTE_DOCUMENT_MODELS
DOCUMENT_MODELS += COLLAB_DOCUMENT_MODELS
DOCUMENT_MODELS += SEARCH_DOCUMENT_MODELS
DOCUMENT_MODELS += [Memory]
SERVICES_STATE_KEY = "services"
EXPOSED_HEADERS = ("X-Request-ID", "Idempotent-Replayed", "Retry-After", "ETag", "Location")


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


def mcp_config(settings: Settings) -> McpConfig:
    base = settings.public_base_url.rstrip("/")
    return McpConfig(
        enabled=settings.mcp_enabled,
        resource_url=settings.mcp_resource_url or f"{base}/mcp",
        authorization_server=base,
        elicitation_timeout_seconds=settings.mcp_elicitation_timeout_seconds,
    )


async def open_services(settings: Settings) -> Services:
    """Connect to MongoDB and Redis and build every manager."""
    mongo = make_client(settings.mongodb_url)
    await init_db(mongo, settings.mongodb_db, DOCUMENT_MODELS)
    # A blocking pool: past `redis_max_connections` callers wait (up to 5 s) for a connection
    # instead of failing with "Too many connections" (which loses events under load).
    redis = Redis(
        connection_pool=BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=settings.redis_max_connections,
            timeout=5,
            socket_timeout=5,
            socket_connect_timeout=5,
            health_check_interval=30,
            # Like the hub's pool: a pooled connection left stale by a Redis restart is
            # retried on a fresh one, so the first requests after Redis returns succeed
            # (issue 15, F3: 29 of 30 concurrent reads were 500s).
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
    )
    redis.auto_close_connection_pool = True
    bus = EventBus(
        redis,
        stream_maxlen=settings.event_stream_maxlen,
        catalog=event_types(),
        strict=settings.events_strict,
    )
    auth = AuthManager(mongo=mongo, redis=redis, bus=bus, config=auth_config(settings))
    attach_security(auth, redis, security_config(settings), email_sender(settings))
    ledger = Ledger(mongo=mongo, bus=bus)
    wallet = WalletManager(
        ledger=ledger,
        mongo=mongo,
        idempotency_ttl_seconds=settings.idempotency_ttl_seconds,
        require_verified_email=settings.wallet_require_verified_email,
        reward_secret=settings.reward_webhook_secret,
    )
    auth.add_user_created_hook(wallet.on_user_created)
    shop = ShopManager(mongo=mongo, wallet=wallet, ledger=ledger, bus=bus)
    services = Services(
        mongo=mongo, redis=redis, bus=bus, auth=auth, ledger=ledger, wallet=wallet, shop=shop
    )
    attach_groups(services, settings)
    attach_notes(services, settings)
    attach_live_edits(services)
    attach_search(services, settings)
    services.memories = MemoryManager(mongo=mongo, bus=bus)
    await attach_agents(services, agents_config(settings), settings.mongodb_db)
    register_channel_authorizers(services)
    return services


def register_channel_authorizers(services: Services) -> None:
    """Who may read `family:{id}` / `workspace:{id}` (`user:{id}` is built in)."""
    for prefix, manager in (("family", services.families), ("workspace", services.workspaces)):
        if manager is not None:
            services.channel_authorizers.register_channel_authorizer(
                prefix,
                manager.is_member,
                presence=True,
                recheck_on={f"{prefix}.member_removed", f"{prefix}.deleted"},
                scope=f"{manager.kind.scope_area}:read",
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


def event_types() -> dict[str, type]:
    """Every event type with its payload Struct (`server/event_catalog.py`)."""
    return catalog_event_types()


def _health_checks(services: Services) -> dict[str, Any]:
    async def mongo_ping() -> None:
        await services.mongo.admin.command("ping")

    async def redis_ping() -> None:
        await services.redis.ping()

    checks: dict[str, Any] = {"mongodb": (mongo_ping, True), "redis": (redis_ping, True)}
    if services.chat is not None:
        checks["llm"] = llm_health_check(services)  # non-critical: degraded, not down
    if services.search is not None:
        checks["embeddings"] = embeddings_health_check(services.search)  # degraded, not down
    return checks


def _job(fn: Callable[[dict[str, Any]], Awaitable[Any]]) -> Any:
    """Our jobs take `ctx` as a plain dict (they add `services` to it); SAQ's stubs type it
    as a closed TypedDict, so hand the functions over untyped."""
    return fn


def _task(fn: Callable[..., Awaitable[Any]]) -> Any:
    """An enqueued (not cron) task: `ctx` plus keyword arguments, handed over untyped too."""
    return fn


def _saq_config(settings: Settings) -> SAQConfig:
    # Every job is a cron job: (function, schedule, timeout in seconds). The queue's task list
    # is derived from it, so the two can never drift apart.
    crons: list[tuple[Callable[[dict[str, Any]], Awaitable[Any]], str, int]] = [
        (jobs.expire_shop_rentals, settings.shop_rental_sweep_cron, 300),
        (jobs.sweep_groups, settings.group_sweep_cron, 300),
        (jobs.drain_email_outbox, settings.email_drain_cron, 120),
        (jobs.cleanup_security_tokens, "17 * * * *", 300),
        (jobs.cleanup_expired_sessions, settings.session_cleanup_cron, 300),
        (jobs.purge_notes_trash, settings.notes_trash_purge_cron, 600),
    ]

    async def worker_startup(ctx: dict[str, Any]) -> None:
        configure_logging(settings.log_level)
        ctx["services"] = await open_services(settings)

    async def worker_shutdown(ctx: dict[str, Any]) -> None:
        services = ctx.get("services")
        if services is not None:
            await services.close()

    return SAQConfig(
        queue_configs=[
            QueueConfig(
                dsn=settings.redis_url,
                name="default",
                tasks=[
                    *(_job(function) for function, _, _ in crons),
                    _task(jobs.extract_document),
                    _task(jobs.import_vault),
                    _task(jobs.index_note),
                ],
                scheduled_tasks=[
                    CronJob(function=_job(function), cron=cron, unique=True, timeout=timeout)
                    for function, cron, timeout in crons
                ],
                startup=_job(worker_startup),
                shutdown=_job(worker_shutdown),
            )
        ],
        use_server_lifespan=False,
        web_enabled=False,
    )


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        services = await open_services(settings)
        app.state[SERVICES_STATE_KEY] = services
        app.state[AUTH_MANAGER_STATE_KEY] = services.auth
        app.state[HEALTH_CHECKS_STATE_KEY] = _health_checks(services)
        app.state[VOICE_STATE_KEY] = VoiceManager(services=services, config=voice_config(settings))
        hub = RealtimeHub(
            auth=services.auth,
            authorizers=services.channel_authorizers,
            config=realtime_config(settings),
        )
        await hub.start()
        app.state[HUB_STATE_KEY] = hub
        mcp: McpServer | None = None
        if settings.mcp_enabled:
            mcp = McpServer(
                services=services,
                auth=services.auth,
                registry=REGISTRY,
                config=mcp_config(settings),
                secret=settings.secret_key,
            )
            app.state[MCP_STATE_KEY] = mcp
        rooms = open_rooms(services, hub, settings)
        app.state[COLLAB_STATE_KEY] = rooms
        if settings.gc_freeze_after_startup and settings.environment != "test":
            # Startup objects leave the cyclic GC's generations, so the full collections
            # that streaming's garbage triggers stay short (scripts/bench_chat.py).
            gc.collect()
            gc.freeze()
        log.info("api started", extra={"environment": settings.environment})
        try:
            if mcp is None:
                yield
            else:
                async with mcp.running():
                    yield
        finally:
            await rooms.stop()
            await hub.stop()
            await services.close()

    app = Litestar(
        route_handlers=[
            HealthController,
            PrometheusController,
            AuthController,
            *SECURITY_CONTROLLERS,
            WalletController,
            AdminWalletController,
            ShopController,
            *GROUP_ROUTE_HANDLERS,
            *NOTE_ROUTE_HANDLERS,
            *SEARCH_ROUTE_HANDLERS,
            MemoryController,
            *AGENT_ROUTE_HANDLERS,
            *MCP_ROUTE_HANDLERS,
            VoiceController,
            RealtimeController,
            realtime_socket,
            collab_socket,
            event_stream,
            asyncapi_document,
        ],
        dependencies=dict(AUTH_DEPENDENCIES),
        exception_handlers={**EXCEPTION_HANDLERS, **DEGRADED_HANDLERS},
        middleware=[RequestMetricsMiddleware],
        cors_config=CORSConfig(
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            # Browsers hide every other response header from JavaScript.
            expose_headers=list(EXPOSED_HEADERS),
        ),
        openapi_config=OpenAPIConfig(
            title=settings.app_name,
            version="1.0.0",
            path="/schema",
            render_plugins=contract_render_plugins(),
        ),
        plugins=[*jobs.queue_plugins(_saq_config(settings)), ServerCLIPlugin()],
        lifespan=[lifespan],
        state=State(
            {
                "settings": settings,
                ASYNCAPI_STATE_KEY: build_asyncapi(
                    title=settings.app_name, version="1.0.0", event_types=event_types()
                ),
            }
        ),
        request_max_body_size=settings.request_max_body_bytes,
        logging_config=None,
        debug=False,
    )
    # Outermost, so unknown routes and framework errors carry a request id too.
    app.asgi_handler = SecurityHeadersMiddleware(
        app.asgi_handler,
        hsts_max_age=settings.hsts_max_age_seconds if settings.environment == "production" else 0,
    )
    app.asgi_handler = RequestIdMiddleware(app.asgi_handler)
    return app
