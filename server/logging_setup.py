"""Structured JSON logs, one object a line, each carrying the request id when there is one.

Nothing here logs request bodies, query strings or headers, so tokens and tickets stay out.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from server.core.request_context import current_request_id

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            payload["requestId"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class RedactQueryStrings(logging.Filter):
    """uvicorn logs WebSocket handshakes as `"WebSocket /ws?ticket=..."`: drop query strings.

    Added for real-time tickets (issue 5); applies to every record that reaches the handler.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(
            isinstance(a, str) and a.startswith("/") and "?" in a for a in args
        ):
            record.args = tuple(
                a.split("?", 1)[0] + "?[redacted]"
                if isinstance(a, str) and a.startswith("/") and "?" in a
                else a
                for a in args
            )
        return True


def configure_logging(level: str = "INFO") -> None:
    """Idempotent: replaces the root handlers with one JSON handler on stdout."""
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactQueryStrings())
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True
    for name in ("uvicorn", "uvicorn.error", "saq"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    for quiet in ("pymongo", "httpx", "httpcore", "asyncio"):
        logging.getLogger(quiet).setLevel(logging.WARNING)
