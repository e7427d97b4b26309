"""Swagger UI served by the api itself, so `/schema` works offline and behind firewalls.

Litestar's render plugins load their scripts from public CDNs (a blank page offline, and a
CSP that must trust those CDNs). The assets here come from the `swagger-ui-bundle-v2` wheel,
pinned in pyproject.toml and uv.lock; the page has no inline script (the start-up code is
`/schema/swagger-init.js`), so the docs CSP allows scripts from 'self' only.
"""

from __future__ import annotations

from functools import cache
from html import escape
from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import OpenAPIRenderPlugin

ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
INIT_JS = b"""window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
});
"""
_LONG_CACHE = {"Cache-Control": "public, max-age=86400"}


@cache
def _asset_dir() -> Path:
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


@cache
def _asset(name: str) -> bytes:
    return (_asset_dir() / name).read_bytes()


@get("/assets/{name:str}", include_in_schema=False, sync_to_thread=False)
def swagger_asset(name: str) -> Response[bytes]:
    media_type = ASSET_TYPES.get(name)
    if media_type is None:
        raise NotFoundException()
    return Response(_asset(name), media_type=media_type, headers=_LONG_CACHE)


@get("/swagger-init.js", include_in_schema=False, sync_to_thread=False)
def swagger_init() -> Response[bytes]:
    return Response(INIT_JS, media_type="text/javascript", headers=_LONG_CACHE)


class OfflineSwagger(OpenAPIRenderPlugin):
    """Swagger UI at `/schema` and `/schema/swagger`, every asset same-origin."""

    def __init__(self, path: tuple[str, ...] = ("/", "/swagger")) -> None:
        super().__init__(path=list(path), favicon="", style="")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        spec = self.get_openapi_json_route(request)
        base = spec.rsplit("/", 1)[0]
        title = str(openapi_schema.get("info", {}).get("title", "API"))
        return (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title>"
            f'<link rel="icon" type="image/png" href="{base}/assets/favicon-32x32.png">'
            f'<link rel="stylesheet" href="{base}/assets/swagger-ui.css"></head>'
            f'<body data-spec="{spec}"><div id="swagger-ui"></div>'
            f'<script src="{base}/assets/swagger-ui-bundle.js"></script>'
            f'<script src="{base}/assets/swagger-ui-standalone-preset.js"></script>'
            f'<script src="{base}/swagger-init.js"></script></body></html>'
        ).encode()

    def receive_router(self, router: Router) -> None:
        router.register(swagger_asset)
        router.register(swagger_init)

