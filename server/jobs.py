"""Background jobs (SAQ). Every job reaches the domain through `ctx["services"]`'s managers."""

from __future__ import annotations

import logging
from typing import Any

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol
from litestar_saq import SAQConfig, SAQPlugin

log = logging.getLogger("server.jobs")


async def expire_shop_rentals(ctx: dict[str, Any]) -> int:
    """Remove shop rentals past their `validUntil` and publish `shop.rental_expired`."""
    expired: int = await ctx["services"].shop.expire_rentals()
    if expired:
        log.info("shop rentals expired", extra={"expired": expired})
    return expired


async def cleanup_expired_sessions(ctx: dict[str, Any]) -> int:
    """Delete login sessions whose refresh token expired (and long-revoked ones)."""
    deleted = await ctx["services"].sessions.cleanup_sessions()
    log.info("expired sessions cleaned", extra={"deleted": deleted})
    return deleted


async def drain_email_outbox(ctx: dict[str, Any]) -> dict[str, int]:
    """Send due e-mails from the outbox (retries with backoff live in the outbox itself)."""
    counts: dict[str, int] = await ctx["services"].outbox.drain()
    if any(counts.values()):
        log.info("e-mail outbox drained", extra=counts)
    return counts


async def cleanup_security_tokens(ctx: dict[str, Any]) -> int:
    """Delete expired single-use tokens (e-mail links) a day after they expired."""
    deleted: int = await ctx["services"].one_time_tokens.cleanup()
    return deleted


async def sweep_groups(ctx: dict[str, Any]) -> dict[str, Any]:
    """Expire family/workspace invitations, token requests and votes past their time."""
    services = ctx["services"]
    swept = {
        "families": await services.families.sweep(),
        "workspaces": await services.workspaces.sweep(),
    }
    log.info("group sweep", extra={"swept": swept})
    return swept


async def purge_notes_trash(ctx: dict[str, Any]) -> int:
    """Purge notes trashed longer than NOTES_TRASH_RETENTION_DAYS, with their revisions."""
    purged: int = await ctx["services"].notes.purge_trash()
    if purged:
        log.info("notes trash purged", extra={"purged": purged})
    return purged


async def extract_document(ctx: dict[str, Any], *, document_id: str) -> str:
    """Turn an uploaded document into its read-only note (enqueued by the upload)."""
    status: str = await ctx["services"].documents.process(document_id)
    log.info("document processed", extra={"document": document_id, "status": status})
    return status


async def import_vault(ctx: dict[str, Any], *, import_id: str) -> str:
    """Import an uploaded vault ZIP into its space (enqueued by the upload)."""
    status: str = await ctx["services"].vault_import.process(import_id)
    log.info("vault imported", extra={"import": import_id, "status": status})
    return status


async def index_note(ctx: dict[str, Any], *, note_id: str) -> dict[str, int]:
    """Re-chunk one note after a change; only chunks whose text changed are embedded."""
    result = await ctx["services"].search_indexer.index_note(note_id)
    return {"chunks": result.chunks, "embedded": result.embedded, "removed": result.removed}


async def index_pending(ctx: dict[str, Any]) -> dict[str, int]:
    """Index every note on the search backlog, many notes per embedding call and bulk write
    (enqueued after each committed note change; a run that finds the backlog empty is a
    no-op)."""
    result = await ctx["services"].search_indexer.index_pending()
    return {"chunks": result.chunks, "embedded": result.embedded, "removed": result.removed}


class ApiQueueHooks(InitPluginProtocol):
    """Keeps litestar-saq's worker machinery out of the api process.

    The stock plugin hooks every worker's startup into the api's lifespan, which starts a
    heartbeat thread with its own event loop in each api process although the workers run
    in the separate `workers run` process; the api only enqueues. This plugin runs after
    `SAQPlugin` (which must stay that exact type: the worker CLI looks it up by type) and
    takes those hooks out again.
    """

    def __init__(self, saq: SAQPlugin) -> None:
        self._saq = saq

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        workers = self._saq.get_workers().values()
        hooks = {id(w.on_app_startup.__func__) for w in workers}  # type: ignore[attr-defined]
        hooks |= {id(w.on_app_shutdown.__func__) for w in workers}  # type: ignore[attr-defined]
        app_config.on_startup = [
            h for h in app_config.on_startup if id(getattr(h, "__func__", None)) not in hooks
        ]
        app_config.on_shutdown = [
            h for h in app_config.on_shutdown if id(getattr(h, "__func__", None)) not in hooks
        ]
        return app_config


def queue_plugins(config: SAQConfig) -> list[InitPluginProtocol]:
    """The SAQ plugin and, after it, the hook remover."""
    saq = SAQPlugin(config)
    return [saq, ApiQueueHooks(saq)]
