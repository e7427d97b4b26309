"""MCP `tools/list` and `tools/call` over the agent tool registry.

The tool list (JSON schemas, titles, annotations) is built once per process: rebuilding
msgspec schemas per call was the cost that made an earlier attempt slow. A call runs as the
token's user: the scope is checked first (a missing one is a tool error naming it, never an
HTTP error), the arguments are converted by the tool's own Struct (422-equivalent errors),
then the manager decides. A tool that needs approval never runs without it: on the
2026-07-28 revision, to a client that declares elicitation, the server answers
`input_required` with a form elicitation and runs the tool when the client retries with the
user's yes; otherwise (handshake-era clients: every request is stateless here, so there is
no back channel to ask on) the call is parked as a pending approval in the app and the
result says so.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

import mcp_types as types
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from agents.mcp.approvals import McpApprovals
from agents.mcp.execute import ToolOutcome, denied, error_payload, run_tool
from agents.mcp.scopes import tool_scope
from agents.mcp.state import RequestState
from agents.tools.registry import Registry, ToolSpec
from server.core.actor import Actor
from server.core.errors import DomainError

if TYPE_CHECKING:  # type-only: the composition root builds it and hands it down
    from server.compose.services import Managers

APPROVAL_KEY = "approval"
APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approve": {
            "type": "boolean",
            "title": "Approve",
            "description": "Run this action now",
        }
    },
    "required": ["approve"],
}


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()


def mcp_tool(spec: ToolSpec) -> types.Tool:
    """The registry tool as an MCP tool: schema, title, description, hints."""
    params = dict(spec.schema()["function"]["parameters"])
    params.setdefault("type", "object")
    scope = tool_scope(spec)
    needs = f"Needs the '{scope}' scope." if scope else "Needs a login session (no API token)."
    if spec.needs_approval:
        needs += " Asks the user for approval before it runs."
    return types.Tool(
        name=spec.name,
        title=_title(spec.name),
        description=f"{spec.description} {needs}",
        input_schema=params,
        annotations=types.ToolAnnotations(
            title=_title(spec.name),
            read_only_hint=not spec.mutating,
            destructive_hint=spec.mutating and spec.needs_approval,
            idempotent_hint=not spec.mutating,
            open_world_hint=False,
        ),
        meta={"scope": scope, "needsApproval": spec.needs_approval, "area": spec.area},
    )


def result_of(outcome: ToolOutcome) -> types.CallToolResult:
    text = json.dumps(outcome.payload, separators=(",", ":"), ensure_ascii=False, default=str)
    structured = (
        outcome.payload if isinstance(outcome.payload, dict) else {"result": outcome.payload}
    )
    return types.CallToolResult(
        content=[types.TextContent(text=text)],
        structured_content=structured,
        is_error=not outcome.ok,
    )


def _elicit_accepted(answer: Any) -> bool:
    if not isinstance(answer, types.ElicitResult) or answer.action != "accept":
        return False
    return bool((answer.content or {}).get("approve") is True)


class McpTools:
    """The tool surface of the MCP server (one instance per process)."""

    def __init__(
        self,
        *,
        services: Managers,
        registry: Registry,
        approvals: McpApprovals,
        state: RequestState,
    ) -> None:
        self._services = services
        self._registry = registry
        self._approvals = approvals
        self._state = state
        self._listed = types.ListToolsResult(tools=[mcp_tool(s) for s in registry.all()])
        self._schemas = {t.name: t.input_schema for t in self._listed.tools}

    def list(self) -> types.ListToolsResult:
        return self._listed

    def input_schema(self, name: str) -> dict[str, Any] | None:
        return self._schemas.get(name)

    async def call(
        self,
        actor: Actor,
        params: types.CallToolRequestParams,
        *,
        protocol_version: str,
        session: Any,
    ) -> types.CallToolResult | types.InputRequiredResult:
        spec = self._registry.get(params.name)
        if spec is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown tool {params.name!r}.")
        scope = tool_scope(spec)
        if scope is not None and not actor.allows_scope(scope):
            return result_of(
                ToolOutcome(
                    "error",
                    error_payload(
                        "INSUFFICIENT_SCOPE",
                        f"This API token lacks the '{scope}' scope.",
                        403,
                        [{"scope": scope}],
                    ),
                )
            )
        try:
            args = spec.parse(params.arguments)
        except DomainError as exc:
            return result_of(
                ToolOutcome("error", error_payload(exc.code, exc.message, 422, exc.details))
            )
        if spec.needs_approval:
            shown = {k: v for k, v in (params.arguments or {}).items() if v is not None}
            if protocol_version in MODERN_PROTOCOL_VERSIONS and _supports_elicitation(session):
                return await self._elicited(actor, spec, args, shown, params)
            approval_id = await self._approvals.park(actor, spec, shown, _new_call_id())
            return self._parked(spec, approval_id)
        return result_of(await run_tool(self._services, actor, spec, args, _new_call_id()))

    async def _elicited(
        self,
        actor: Actor,
        spec: ToolSpec,
        args: Any,
        shown: dict[str, Any],
        params: types.CallToolRequestParams,
    ) -> types.CallToolResult | types.InputRequiredResult:
        """2026-07-28: ask through `input_required`; run on the retry that says yes.

        The request state is signed and bound to this user, tool and call id, and expires
        after `MCP_ELICITATION_TIMEOUT_SECONDS`: a client cannot replay another call's
        state, and a yes given long after the question is asked again."""
        answer = (params.input_responses or {}).get(APPROVAL_KEY)
        if answer is None or params.request_state is None:
            return self._ask(actor, spec, shown)
        call_id = self._state.verify(params.request_state, actor, spec.name)
        if call_id is None:
            return self._ask(actor, spec, shown)
        if not _elicit_accepted(answer):
            return result_of(denied())
        return result_of(await run_tool(self._services, actor, spec, args, call_id))

    def _ask(
        self, actor: Actor, spec: ToolSpec, shown: dict[str, Any]
    ) -> types.InputRequiredResult:
        return types.InputRequiredResult(
            input_requests={APPROVAL_KEY: _elicit_request(spec, shown)},
            request_state=self._state.issue(actor, spec.name, _new_call_id()),
        )

    @staticmethod
    def _parked(spec: ToolSpec, approval_id: str) -> types.CallToolResult:
        payload = {
            "status": "awaiting_approval",
            "approvalId": approval_id,
            "tool": spec.name,
            "message": "Nothing was done yet: the user must approve this action in the app "
            "(GET /api/v1/chat/approvals). It runs once approved.",
        }
        return types.CallToolResult(
            content=[types.TextContent(text=json.dumps(payload, separators=(",", ":")))],
            structured_content=payload,
            is_error=False,
        )


def _new_call_id() -> str:
    return f"mcp_{uuid.uuid4().hex[:20]}"


def _supports_elicitation(session: Any) -> bool:
    caps = getattr(session, "client_capabilities", None)
    return caps is not None and getattr(caps, "elicitation", None) is not None


def _elicit_request(spec: ToolSpec, shown: dict[str, Any]) -> types.ElicitRequest:
    return types.ElicitRequest(
        params=types.ElicitRequestFormParams(
            message=f"Approve this action? {spec.describe(shown)}",
            requested_schema=APPROVAL_SCHEMA,
        )
    )
