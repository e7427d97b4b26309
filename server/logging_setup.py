"""Structured JSON logs, one object a line, each carrying the request id when there is one.

Nothing here logs request bodies, query strings or headers, so tokens and tickets stay out.
Records go through a queue: the event loop only captures the request id and the message;
a listener thread formats the JSON and writes stdout (which can block on a slow pipe), so
the access log of every request no longer costs a `json.dumps` and a `write` on the loop.

The access log goes further (`access_line`): its line is formatted on the loop without a
`LogRecord` (a few string joins), buffered, and handed to the listener thread in batches
(every `ACCESS_FLUSH_SECONDS`, or at `ACCESS_FLUSH_LINES` lines, and always at shutdown):
one queue hand-off per batch instead of one per request, which woke the thread and made
it fight the loop for the GIL on every request (issue 18, third round).
"""

from __future__ import annotations

import asyncio
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
_encode = json.encoder.encode_basestring_ascii  # json.dumps' own string quoting (C)

ACCESS_FLUSH_SECONDS = 0.1
ACCESS_FLUSH_LINES = 256


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "preformatted", False):
            return str(record.msg)  # a batch of access lines, already JSON
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
_records: queue.SimpleQueue[logging.LogRecord] | None = None


class _AccessBatch:
    """Access lines waiting for the listener; handed over as one record per batch."""

    __slots__ = ("lines", "scheduled", "second", "second_text")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.scheduled: asyncio.AbstractEventLoop | None = None  # where the flush timer runs
        self.second = -1  # the whole second `second_text` was formatted for
        self.second_text = ""

    def flush(self) -> None:
        self.scheduled = None
        if not self.lines:
            return
        text, self.lines = "\n".join(self.lines), []
        records = _records
        if records is None:
            return  # logging was stopped: nothing writes any more
        record = logging.LogRecord("server.access", logging.INFO, __file__, 0, text, None, None)
        record.preformatted = True
        records.put_nowait(record)


_access = _AccessBatch()
_access_log = logging.getLogger("server.access")


def access_line(
    method: str, path: str, status: int | None, duration_ms: float, request_id: str
) -> None:
    """Log one request ("request" on `server.access`, INFO) as the same JSON line the
    formatter would write for `log.info("request", extra=...)`, but cheaply (see above).

    Without our queue (logging configured by someone else, e.g. a test harness) it is an
    ordinary record."""
    if not _access_log.isEnabledFor(logging.INFO):
        return
    if _records is None:
        _access_log.info(
            "request",
            extra={
                "requestId": request_id,
                "method": method,
                "path": path,
                "status": status,
                "durationMs": duration_ms,
            },
        )
        return
    now = time.time()
    batch = _access
    second = int(now)
    if second != batch.second:
        batch.second = second
        batch.second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    batch.lines.append(
        f'{{"ts": "{batch.second_text}.{int((now - second) * 1000):03d}Z", "level": "info", '
        f'"logger": "server.access", "msg": "request", "requestId": {_encode(request_id)}, '
        f'"method": {_encode(method)}, "path": {_encode(path)}, '
        f'"status": {"null" if status is None else int(status)}, "durationMs": {duration_ms!r}}}'
    )
    if len(batch.lines) >= ACCESS_FLUSH_LINES:
        batch.flush()
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no event loop here: hand it over at once
        batch.flush()
        return
    if batch.scheduled is not loop:  # none yet, or on a loop that has ended since
        loop.call_later(ACCESS_FLUSH_SECONDS, batch.flush)
        batch.scheduled = loop


def stop_logging() -> None:
    """Flush what is queued and stop the listener thread (at exit, or before reconfiguring)."""
    global _listener, _records
    _access.flush()
    _records = None
    if _listener is not None:
        _listener.stop()
        _listener = None


def configure_logging(level: str = "INFO") -> None:
    """Idempotent: replaces the root handlers with one queue handler feeding JSON to stdout."""
    global _listener, _records
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
    _records = records
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
