"""Structured JSON logs, one object a line, each carrying the request id when there is one.

Nothing here logs request bodies, query strings or headers, so tokens and tickets stay out.
Records go through a queue: the event loop only captures the request id and the message;
a listener thread formats the JSON and writes stdout (which can block on a slow pipe), so
the access log of every request no longer costs a `json.dumps` and a `write` on the loop.
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import queue
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
        request_id = getattr(record, "requestId", None) or current_request_id()
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


class _ContextQueueHandler(logging.handlers.QueueHandler):
    """Enqueues the record itself, with what only the caller's context knows captured now:
    the request id (a context variable the listener thread cannot see) and the message
    (its args may change after the call)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if not hasattr(record, "requestId"):
            request_id = current_request_id()
            if request_id:
                record.requestId = request_id
        record.msg = record.getMessage()
        record.args = None
        return record


_listener: logging.handlers.QueueListener | None = None


def stop_logging() -> None:
    """Flush what is queued and stop the listener thread (at exit, or before reconfiguring)."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


def configure_logging(level: str = "INFO") -> None:
    """Idempotent: replaces the root handlers with one queue handler feeding JSON to stdout."""
    global _listener
    stop_logging()
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    queued = _ContextQueueHandler(records)
    queued.addFilter(RedactQueryStrings())  # before `prepare` freezes the message
    root.handlers[:] = [queued]
    _listener = logging.handlers.QueueListener(records, handler)
    _listener.start()
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True
    for name in ("uvicorn", "uvicorn.error", "saq"):
        # Through the root handler, at the root's level, even after a `dictConfig` (uvicorn's
        # own, run earlier in the process) disabled or levelled them.
        routed = logging.getLogger(name)
        routed.handlers[:] = []
        routed.propagate = True
        routed.disabled = False
        routed.setLevel(logging.NOTSET)
    for quiet in ("pymongo", "httpx", "httpcore", "asyncio"):
        logging.getLogger(quiet).setLevel(logging.WARNING)


atexit.register(stop_logging)
