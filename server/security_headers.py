"""Security headers on every HTTP response (errors and unknown routes included).

API responses get the strictest policy: nothing may load, nothing may frame them. The
OpenAPI UI under `/schema` is Swagger UI served from the api itself (`server/openapi/
swagger.py`), so its page may load scripts, styles and images from 'self' only (Swagger's
React components set inline styles). HSTS only in production (behind TLS);
`Cache-Control: no-store` on every API response, which may carry tokens.
"""

from __future__ import annotations

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


class SecurityHeaders:
    """The headers to add to one response, computed once per (docs page or API) kind.

    Applied by `RequestIdMiddleware` in the same `send` wrapper as the request id: one
    header pass per response instead of a second middleware wrapping `send` again.
    """

    __slots__ = ("_api", "_docs", "_docs_prefix")

    def __init__(self, *, hsts_max_age: int = 0, docs_prefix: str = "/schema") -> None:
        self._docs_prefix = docs_prefix
        hsts = (
            ((b"strict-transport-security", f"max-age={hsts_max_age}; includeSubDomains".encode()),)
            if hsts_max_age > 0
            else ()
        )
        self._api = (
            *_COMMON,
            (b"content-security-policy", API_CSP.encode()),
            *hsts,
            (b"cache-control", b"no-store"),
        )
        self._docs = (*_COMMON, (b"content-security-policy", DOCS_CSP.encode()), *hsts)

    def for_path(self, path: str) -> tuple[tuple[bytes, bytes], ...]:
        prefix = self._docs_prefix
        is_docs = path == prefix or path.startswith(prefix + "/")
        return self._docs if is_docs else self._api

    @staticmethod
    def add(headers: list[tuple[bytes, bytes]], extra: tuple[tuple[bytes, bytes], ...]) -> None:
        """Append `extra` to `headers`, keeping any header the handler already set."""
        present = {name.lower() for name, _ in headers}
        headers.extend(h for h in extra if h[0] not in present)
