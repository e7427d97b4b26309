"""Request ids and access logs for every HTTP request and WebSocket."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from server.core.request_context import reset_request_id, set_request_id

log = logging.getLogger("server.access")
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _VALID_REQUEST_ID.match(candidate):
                return candidate
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Sets the request id (from a sane `X-Request-ID` or a new one), echoes it, logs the access.

    The logged path never includes the query string: WebSocket tickets travel there.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope)
        token = set_request_id(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status: dict[str, Any] = {"code": None}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            # A WebSocket has no `http.response.start`: its frames skip this wrapper.
            await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)
        finally:
            path = scope.get("path", "")
            if path not in ("/health/live", "/metrics"):
                log.info(
                    "request",
                    extra={
                        "method": scope.get("method", "WS"),
                        "path": path,
                        "status": status["code"],
                        "durationMs": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
            reset_request_id(token)
