"""The api process: the Litestar app around the services the composition root opens
(`server/compose/`), plus the SAQ worker's configuration."""

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
from litestar_saq import CronJob, QueueConfig, SAQConfig

from agents.mcp.routes import MCP_STATE_KEY
from agents.mcp.server import McpServer
from agents.tools import REGISTRY
from auth.dependencies import AUTH_MANAGER_STATE_KEY
from auth.limits import auth_rate_limit
from auth.revocation_feed import RevocationFeed
from realtime.asyncapi import build_asyncapi
from realtime.collab.endpoint import COLLAB_STATE_KEY
from realtime.gateway import HUB_STATE_KEY
from realtime.hub import RealtimeHub
from realtime.routes import ASYNCAPI_STATE_KEY
from server import jobs
from server.compose.build import open_services
from server.compose.catalog import ROUTE_HANDLERS
from server.compose.cli import ServerCLIPlugin
from server.compose.collab import open_rooms
from server.compose.config import mcp_config, realtime_config
from server.compose.providers import DEPENDENCIES, SERVICES_STATE_KEY
from server.compose.services import Services
from server.core.degraded import DEGRADED_HANDLERS
from server.core.errors import EXCEPTION_HANDLERS
from server.event_catalog import event_types
from server.health import HEALTH_CHECKS_STATE_KEY
from server.lean_guards import guards_without_copies
from server.logging_setup import configure_logging
from server.metrics import RequestMetricsMiddleware
from server.middleware import RequestIdMiddleware
from server.openapi import contract_render_plugins
from server.security_headers import SecurityHeaders
from server.sequential_di import resolve_dependencies_sequentially
from server.settings import Settings

log = logging.getLogger("server.app")
EXPOSED_HEADERS = ("X-Request-ID", "Idempotent-Replayed", "Retry-After", "ETag", "Location")


def _health_checks(services: Services) -> dict[str, Any]:
    async def mongo_ping() -> None:
        await services.mongo.admin.command("ping")

    async def redis_ping() -> None:
        await services.redis.ping()

    async def llm_probe() -> None:
        await services.chat.llm_factory.probe()

    async def embeddings_probe() -> None:
        await services.search.embedder.probe()

    # The LLM is non-critical: down makes the api degraded, not down.
    return {
        "mongodb": (mongo_ping, True),
        "redis": (redis_ping, True),
        "llm": (llm_probe, False),
        # An unreachable embedder: degraded (notes stay searchable lexically), never down.
        "embeddings": (embeddings_probe, False),
    }


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
                    _task(jobs.index_pending),
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
        hub = RealtimeHub(
            auth=services.auth,
            authorizers=services.channel_authorizers,
            config=realtime_config(settings),
        )
        await hub.start()
        app.state[HUB_STATE_KEY] = hub
        revocations = RevocationFeed(services.redis, services.auth.hot_sessions)
        revocations.start()  # other processes' logouts reach the hot liveness cache at once
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
            await revocations.stop()
            await hub.stop()
            await services.close()

    app = Litestar(
        route_handlers=ROUTE_HANDLERS,
        dependencies=DEPENDENCIES,
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
        plugins=[*jobs.queue_plugins(_saq_config(settings)), ServerCLIPlugin(open_services)],
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
    # Outermost, so unknown routes and framework errors carry a request id and the
    # security headers too (one middleware adds both, in one pass).
    security = SecurityHeaders(
        hsts_max_age=settings.hsts_max_age_seconds if settings.environment == "production" else 0,
    )
    app.asgi_handler = RequestIdMiddleware(app.asgi_handler, security)
    resolve_dependencies_sequentially(app)
    guards_without_copies(app, read_only={auth_rate_limit})  # it only reads the handler
    return app
