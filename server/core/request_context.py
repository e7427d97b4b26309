"""Per-request context (the request id) available to logs and error bodies."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from typing import Any

# `scope["state"]` key: the response status, set by the request-id middleware's send wrapper
# (None until the response starts), so inner middlewares need no send wrapper of their own.
RESPONSE_STATUS_KEY = "response_status"

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> Token[str | None]:
    return _request_id.set(value)


def reset_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)


def raw_header(scope: Mapping[str, Any], name: bytes) -> str | None:
    """The first value of header `name` (lower-case bytes) from an ASGI scope's raw list,
    without building a parsed headers object (which Litestar would cache in the scope)."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None
