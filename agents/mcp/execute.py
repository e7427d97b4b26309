"""Run one registry tool as a user: the same call the chat graph makes, outside a graph.

Used by MCP `tools/call` and by answering a parked MCP approval in the app; the tool calls
its manager, which checks permissions, writes and publishes its events after commit
exactly as over HTTP.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agents.tools.registry import ToolArgs, ToolContext, ToolSpec, to_jsonable
from server.core.actor import Actor
from server.core.errors import DomainError

if TYPE_CHECKING:  # type-only: the composition root builds it and hands it down
    from server.compose.services import Managers

log = logging.getLogger("agents.mcp")


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    status: str  # ok | error | denied
    payload: Any  # the JSON-ready result, or {"error": {code, message, status}}

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def error_payload(code: str, message: str, status: int, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        body["details"] = details
    return {"error": body}


def denied() -> ToolOutcome:
    return ToolOutcome(
        "denied", error_payload("DENIED", "The user declined this action; nothing was done.", 403)
    )


async def run_tool(
    services: Managers, actor: Actor, spec: ToolSpec, args: ToolArgs, call_id: str
) -> ToolOutcome:
    """Call `spec` with `args` as `actor` (channel `agent`); domain errors become results."""
    ctx = ToolContext(services=services, actor=actor.with_channel("agent"), call_id=call_id)
    try:
        value = await spec.run(ctx, args)
    except DomainError as exc:
        return ToolOutcome(
            "error", error_payload(exc.code, exc.message, exc.status_code, exc.details)
        )
    except Exception:
        log.exception("mcp tool failed", extra={"tool": spec.name})
        return ToolOutcome(
            "error", error_payload("TOOL_FAILED", "The tool failed unexpectedly.", 500)
        )
    return ToolOutcome("ok", to_jsonable(value))
