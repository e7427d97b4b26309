"""Request metrics for Prometheus, lean enough for the hot path.

Same metric names and labels as Litestar's Prometheus plugin
(`second_brain_requests_total`, `..._request_duration_seconds`, `..._requests_in_progress`,
`..._requests_error_total`; labels app_name, method, path, status_code) but the labelled
children are looked up once per (method, route template, status) and then reused, and no
`Request` object is built per request: that plugin cost ~9 % of the CPU of a simple read.
`/metrics` itself is still served by the plugin's `PrometheusController`. The status comes
from the request-id middleware's send wrapper (`RESPONSE_STATUS_KEY` in the scope state)
when it runs outside, so a request pays one `send` wrapper, not two.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram

from server.core.request_context import RESPONSE_STATUS_KEY

_LABELS = ("app_name", "method", "path", "status_code")
_APP = "second_brain"

_REQUESTS = Counter("second_brain_requests_total", "Total requests", _LABELS)
_ERRORS = Counter("second_brain_requests_error_total", "Requests answered 5xx", _LABELS)
_DURATION = Histogram("second_brain_request_duration_seconds", "Request duration", _LABELS)
_IN_PROGRESS = Gauge(
    "second_brain_requests_in_progress", "Requests being served", ("app_name", "method", "path")
)

_EXCLUDED_PREFIXES = ("/metrics", "/health")
_children: dict[tuple[str, str, int], tuple[Any, Any, Any | None]] = {}
_gauges: dict[tuple[str, str], Any] = {}


def _finished(method: str, path: str, status: int) -> tuple[Any, Any, Any | None]:
    key = (method, path, status)
    found = _children.get(key)
    if found is None:
        values = (_APP, method, path, str(status))
        found = (
            _REQUESTS.labels(*values),
            _DURATION.labels(*values),
            _ERRORS.labels(*values) if status >= 500 else None,
        )
        _children[key] = found
    return found


def _in_progress(method: str, path: str) -> Any:
    gauge = _gauges.get((method, path))
    if gauge is None:
        gauge = _gauges[(method, path)] = _IN_PROGRESS.labels(_APP, method, path)
    return gauge


class RequestMetricsMiddleware:
    """Route-level ASGI middleware (the route template is known by then)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http" or scope["path"].startswith(_EXCLUDED_PREFIXES):
            # The inner app's own coroutine: no frame of ours stays suspended for a
            # WebSocket's whole life (thousands of idle sockets).
            return self.app(scope, receive, send)
        return self._measured(scope, receive, send)

    async def _measured(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]  # type: ignore[typeddict-item]  # http, checked above
        path = scope.get("path_template") or scope["path"]
        status = 500
        started = time.perf_counter()
        state: dict[str, Any] = scope.get("state") or {}
        outer = RESPONSE_STATUS_KEY in state  # the request-id middleware records the status

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        gauge = _in_progress(method, path)
        gauge.inc()
        try:
            await self.app(scope, receive, send if outer else send_with_status)
        finally:
            gauge.dec()
            if outer:
                status = state[RESPONSE_STATUS_KEY] or 500
            count, duration, errors = _finished(method, path, status)
            count.inc()
            duration.observe(time.perf_counter() - started)
            if errors is not None:
                errors.inc()
