"""The MCP server object: the SDK's low-level `Server` with our handlers, behind our auth.

Why the low-level `Server` and not `MCPServer` (FastMCP): our tools already exist, with
msgspec argument Structs and their JSON schemas; `MCPServer` derives schemas from Python
signatures and would need a wrapper function per tool. The low-level server takes the
registry as it is, lets us build the tool list once, and gives each handler the HTTP
request (where our ASGI layer put the `Actor`).

Transport: streamable HTTP via the SDK's session manager, stateless and JSON responses.
The newest revision the SDK supports, 2026-07-28, is stateless by design (one POST per
request, no session); handshake-era clients (2025-11-25 and older) are served statelessly
too, so no MCP state lives in an api process and any replica answers any request.

Auth (OAuth 2.1 resource server): every HTTP request carries a bearer token — an `sbp_` API
token or an access token — checked by the same `AuthManager` as every route, so a revoked
token or ended session is refused on its next request. A JWT with an `aud` claim must name
`MCP_RESOURCE_URL`. A 401 carries `WWW-Authenticate: Bearer resource_metadata="…"` (RFC
9728). The token itself goes nowhere else: tools get the `Actor`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import jwt
import mcp_types as types
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError

from agents.mcp.approvals import McpApprovals
from agents.mcp.config import McpConfig
from agents.mcp.content import McpContent
from agents.mcp.state import RequestState
from agents.mcp.tools import McpTools
from agents.tools.registry import Registry
from auth.client_ip import resolve_client_ip
from auth.manager import AuthManager, ClientContext
from server.core.actor import Actor
from server.core.errors import DomainError, ServiceUnavailable, error_body

if TYPE_CHECKING:  # type-only: the composition root builds it and hands it down
    from server.compose.services import Services

log = logging.getLogger("agents.mcp")

ACTOR_KEY = "sb.mcp.actor"


def actor_of(ctx: ServerRequestContext[Any, Any]) -> Actor:
    request = ctx.request
    actor = request.scope.get(ACTOR_KEY) if request is not None else None
    if not isinstance(actor, Actor):
        raise MCPError(code=types.INVALID_REQUEST, message="Not authenticated.")
    return actor


def audience_ok(token: str, resource_url: str) -> bool:
    """A JWT access token that names an audience must name this MCP server (RFC 8707);
    ours carry none (issued by this api for this api). Read after `AuthManager` verified
    the signature, so the claim is trustworthy."""
    if token.startswith("sbp_") or token.count(".") != 2:
        return True
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    aud = claims.get("aud")
    if aud is None:
        return True
    names = [aud] if isinstance(aud, str) else list(aud) if isinstance(aud, list) else []
    return resource_url.rstrip("/") in {str(n).rstrip("/") for n in names}


class McpServer:
    """The low-level server, its session manager, and the ASGI app mounted at /mcp."""

    def __init__(
        self,
        *,
        services: Services,
        auth: AuthManager,
        registry: Registry,
        config: McpConfig,
        secret: str,
    ) -> None:
        self.config = config
        self._auth = auth
        self.approvals = McpApprovals(services=services, registry=registry)
        self.tools = McpTools(
            services=services,
            registry=registry,
            approvals=self.approvals,
            state=RequestState(secret, config.elicitation_timeout_seconds),
        )
        self.content = McpContent(services=services, registry=registry)
        self.server: Server[Any] = Server(
            "second-brain",
            version="1.0.0",
            title="Second Brain",
            instructions=(
                "Tools act as the signed-in user with the token's scopes. Money-moving and "
                "destructive tools ask the user for approval (elicitation) or wait for it "
                "in the app."
            ),
            get_tool_input_schema=self.tools.input_schema,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_templates,
            on_read_resource=self._read_resource,
            on_list_prompts=self._list_prompts,
            on_get_prompt=self._get_prompt,
        )
        # No OpenTelemetry span per message (nothing exports them here).
        self.server.middleware = []
        self.sessions = StreamableHTTPSessionManager(
            app=self.server,
            json_response=True,
            stateless=True,
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self.sessions.run():
            yield

    # ------------------------------------------------------------------ handlers

    async def _list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        actor_of(ctx)
        return self.tools.list()

    async def _call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        return await self.tools.call(
            actor_of(ctx), params, protocol_version=ctx.protocol_version, session=ctx.session
        )

    async def _list_resources(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return await self.content.list_resources(actor_of(ctx))

    async def _list_templates(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        actor_of(ctx)
        return self.content.templates()

    async def _read_resource(
        self, ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        return await self.content.read(actor_of(ctx), params.uri)

    async def _list_prompts(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        actor_of(ctx)
        return self.content.prompts()

    async def _get_prompt(
        self, ctx: ServerRequestContext[Any, Any], params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        actor_of(ctx)
        return self.content.prompt(params.name, params.arguments)

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Authenticate the request, then hand it to the SDK's transport."""
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        scheme, _, token = headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            await self._unauthorized(send, "UNAUTHORIZED", "Authentication is required.")
            return
        peer = scope.get("client")
        ip = resolve_client_ip(
            peer[0] if peer else None,
            headers.get("x-forwarded-for"),
            self._auth.config.trusted_proxies,
        )
        try:
            actor = await self._auth.authenticate(
                token, ClientContext(ip=ip, user_agent=headers.get("user-agent"))
            )
        except ServiceUnavailable as exc:
            await _json(send, 503, _body(exc.code, exc.message), [(b"retry-after", b"5")])
            return
        except DomainError as exc:
            if exc.status_code == 401:
                await self._unauthorized(send, exc.code, exc.message)
            else:
                await _json(send, exc.status_code, _body(exc.code, exc.message))
            return
        except (ConnectionError, OSError, TimeoutError):
            log.warning("mcp auth: a dependency is unreachable")
            await _json(
                send,
                503,
                _body("SERVICE_UNAVAILABLE", "Try again shortly."),
                [(b"retry-after", b"5")],
            )
            return
        if not audience_ok(token, self.config.resource_url):
            await self._unauthorized(
                send, "INVALID_AUDIENCE", "This token was not issued for this MCP server."
            )
            return
        scope[ACTOR_KEY] = actor
        # Lets the SDK bind anything per principal (never the token itself).
        scope["user"] = AuthenticatedUser(
            AccessToken(
                token="-",
                client_id=str(actor.user_id),
                scopes=sorted(actor.scopes) if actor.scopes is not None else ["*"],
                subject=str(actor.user_id),
                resource=self.config.resource_url,
            )
        )
        await self.sessions.handle_request(scope, receive, send)

    async def _unauthorized(self, send: Any, code: str, message: str) -> None:
        error = "invalid_token" if code != "UNAUTHORIZED" else "invalid_request"
        challenge = (
            f'Bearer error="{error}", error_description="{message}", '
            f'resource_metadata="{self.config.metadata_url}"'
        )
        await _json(send, 401, _body(code, message), [(b"www-authenticate", challenge.encode())])


def _body(code: str, message: str) -> dict[str, Any]:
    return error_body(code, message)


async def _json(
    send: Any, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"cache-control", b"no-store"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
