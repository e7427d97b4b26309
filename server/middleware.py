"""Request ids, security headers and access logs for every HTTP request and WebSocket.

One middleware, one `send` wrapper: the request id and the security headers are added to
`http.response.start` in the same pass (they were two middlewares, each copying the
headers). New request ids are a per-process random prefix and a counter: unique across
processes and restarts, and far cheaper than a `uuid4` per request.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from server.core.request_context import (
    RESPONSE_STATUS_KEY,
    raw_header,
    reset_request_id,
    set_request_id,
)
from server.logging_setup import access_line
from server.security_headers import SecurityHeaders

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_UNLOGGED = frozenset(("/health/live", "/metrics"))


class RequestIds:
    """32 hex digits like a `uuid4().hex`: 16 random ones, new per process (and instance),
    then a 16-digit counter."""

    __slots__ = ("_counter", "_prefix")

    def __init__(self) -> None:
        self._prefix = uuid.uuid4().hex[:16]
        self._counter = itertools.count(1)

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"

    def for_scope(self, scope: Scope) -> str:
        """A sane incoming `X-Request-ID`, else a new id."""
        candidate = raw_header(scope, b"x-request-id")
        if candidate is not None and _VALID_REQUEST_ID.match(candidate):
            return candidate
        return self.new()


class RequestIdMiddleware:
    """Sets the request id (from a sane `X-Request-ID` or a new one), echoes it, adds the
    security headers (when given), logs the access (`logging_setup.access_line`: batched).

    The logged path never includes the query string: WebSocket tickets travel there.
    """

    def __init__(self, app: ASGIApp, security: SecurityHeaders | None = None) -> None:
        self.app = app
        self._security = security
        self._ids = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        request_id = self._ids.for_scope(scope)
        token = set_request_id(request_id)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        path: str = scope.get("path", "")
        status: int | None = None

        if kind == "http":
            security = self._security
            extra = security.for_path(path) if security is not None else ()
            id_header = (b"x-request-id", request_id.encode())
            state[RESPONSE_STATUS_KEY] = None  # the metrics middleware reads it: no 2nd wrapper

            async def send_with_headers(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = state[RESPONSE_STATUS_KEY] = message["status"]
                    headers = list(message.get("headers", ()))
                    headers.append(id_header)
                    if extra:
                        SecurityHeaders.add(headers, extra)
                    message = {**message, "headers": headers}
                await send(message)

            wrapped: Send = send_with_headers
        else:
            wrapped = send  # a WebSocket has no `http.response.start`: frames skip the wrapper

        try:
            await self.app(scope, receive, wrapped)
        finally:
            if path not in _UNLOGGED:
                access_line(
                    str(scope.get("method", "WS")),
                    path,
                    status,
                    round((time.perf_counter() - started) * 1000, 2),
                    request_id,
                )
            reset_request_id(token)
