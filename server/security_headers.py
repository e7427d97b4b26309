"""Security headers on every HTTP response (errors and unknown routes included).

API responses get the strictest policy: nothing may load, nothing may frame them. The
OpenAPI UI under `/schema` is Swagger UI served from the api itself (`server/openapi/
swagger.py`), so its page may load scripts, styles and images from 'self' only (Swagger's
React components set inline styles). HSTS only in production (behind TLS);
`Cache-Control: no-store` on every API response, which may carry tokens.
"""

from __future__ import annotations

from litestar.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

_COMMON: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-site"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    (b"x-permitted-cross-domain-policies", b"none"),
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts_max_age: int = 0, docs_prefix: str = "/schema"):
        self.app = app
        self._docs_prefix = docs_prefix
        self._hsts = (
            (b"strict-transport-security", f"max-age={hsts_max_age}; includeSubDomains".encode())
            if hsts_max_age > 0
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        is_docs = path == self._docs_prefix or path.startswith(self._docs_prefix + "/")
        csp = (DOCS_CSP if is_docs else API_CSP).encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [*_COMMON, (b"content-security-policy", csp)]
                if self._hsts:
                    extra.append(self._hsts)
                if not is_docs:
                    extra.append((b"cache-control", b"no-store"))
                headers.extend((n, v) for n, v in extra if n not in present)
                message = {**message, "headers": headers}  # type: ignore[misc]
            await send(message)

        await self.app(scope, receive, send_with_headers)
