"""Serve the finalized document: each of Litestar's render plugins, wrapped.

Litestar hands its render plugins the generated schema; the wrapper hands them the
post-processed one instead (built once per app, on first request), so `/schema/openapi.json`
and both UIs show the same, corrected contract.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Router
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin

from server.openapi.document import finalize
from server.openapi.routes_info import operation_infos
from server.openapi.swagger import OfflineSwagger


class ContractRender(OpenAPIRenderPlugin):
    """Delegates to `inner`, with the finalized document."""

    def __init__(self, inner: OpenAPIRenderPlugin) -> None:
        super().__init__(path=inner.paths, media_type=inner.media_type)
        self.inner = inner
        self._doc: dict[str, Any] | None = None

    def document(self, request: Request[Any, Any, Any], schema: dict[str, Any]) -> dict[str, Any]:
        if self._doc is None:
            self._doc = finalize(schema, operation_infos(request.app))
        return self._doc

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return self.inner.render(request, self.document(request, openapi_schema))

    def receive_router(self, router: Router) -> None:
        self.inner.receive_router(router)


def contract_render_plugins() -> list[OpenAPIRenderPlugin]:
    """Swagger UI (offline: `server/openapi/swagger.py`) at `/schema` and `/schema/swagger`,
    the JSON at `/schema/openapi.json`."""
    return [ContractRender(OfflineSwagger()), ContractRender(JsonRenderPlugin())]
