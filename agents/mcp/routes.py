"""HTTP side of the MCP area: the /mcp mount, RFC 9728 metadata, approvals in the app."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.handlers import asgi

from agents.mcp.approvals import McpApprovals
from agents.mcp.config import METADATA_PATH
from agents.mcp.schemas import ApprovalAnswer, ApprovalOutcome, PendingApprovalPage
from agents.mcp.scopes import AREA_SCOPES
from agents.mcp.server import McpServer
from server.core.actor import Actor
from server.core.errors import NotFound
from server.core.paging import DEFAULT_LIMIT, MAX_LIMIT, Cursor, Limit, page_slice

MCP_STATE_KEY = "mcp"


def mcp_server(state: State) -> McpServer:
    server = state.get(MCP_STATE_KEY)
    if not isinstance(server, McpServer):
        raise NotFound("The MCP server is not enabled.", code="MCP_DISABLED")
    return server


def provide_approvals(state: State) -> McpApprovals:
    return mcp_server(state).approvals


@asgi("/mcp", is_mount=True, copy_scope=True, include_in_schema=False)
async def mcp_mount(scope: Any, receive: Any, send: Any) -> None:
    """Streamable HTTP (MCP) at /mcp; POST, GET and DELETE go to the SDK's transport."""
    await mcp_server(scope["app"].state)(scope, receive, send)


def _metadata(server: McpServer) -> dict[str, Any]:
    scopes = sorted({s for pair in AREA_SCOPES.values() for s in pair})
    return {
        "resource": server.config.resource_url,
        "authorization_servers": [server.config.authorization_server],
        "bearer_methods_supported": ["header"],
        "scopes_supported": scopes,
        "resource_name": "Second Brain MCP",
        "resource_documentation": f"{server.config.authorization_server}/schema",
    }


@get(
    METADATA_PATH,
    summary="OAuth 2.0 protected-resource metadata of the MCP server (RFC 9728)",
    tags=["mcp"],
    operation_id="mcpProtectedResourceMetadata",
)
async def protected_resource_metadata(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return _metadata(mcp_server(request.app.state))


@get(METADATA_PATH + "/{rest:path}", include_in_schema=False)
async def protected_resource_metadata_at_path(
    request: Request[Any, Any, Any], rest: str
) -> dict[str, Any]:
    """The same document where RFC 9728 section 3.1 puts it for the resource `/mcp`."""
    return _metadata(mcp_server(request.app.state))


class ApprovalsController(Controller):
    """Pending approvals of chats and MCP clients, answered in the app."""

    path = "/api/v1/chat/approvals"
    tags = ["chat"]
    dependencies = {"approvals": Provide(provide_approvals, sync_to_thread=False)}

    @get("/", summary="My pending approvals (chats and MCP clients), newest first")
    async def pending(
        self,
        actor: Actor,
        approvals: McpApprovals,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> PendingApprovalPage:
        pending = await approvals.pending(actor, limit=MAX_LIMIT)
        items, next_cursor = page_slice(pending, limit=limit, cursor=cursor)
        return PendingApprovalPage(items=items, next_cursor=next_cursor)

    @post(
        "/{approval_id:str}",
        summary="Approve (run it now) or deny a parked MCP tool call",
        status_code=200,
    )
    async def decide(
        self, approval_id: str, data: ApprovalAnswer, actor: Actor, approvals: McpApprovals
    ) -> ApprovalOutcome:
        return await approvals.decide(actor, approval_id, data.approve)


MCP_ROUTE_HANDLERS: list[Any] = [
    mcp_mount,
    protected_resource_metadata,
    protected_resource_metadata_at_path,
    ApprovalsController,
]
