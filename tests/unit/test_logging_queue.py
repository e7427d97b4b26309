"""Logs go through a queue (issue 18): the event loop enqueues, a thread writes JSON lines.

Each test would fail if records were lost, written without their request id (a context
variable the listener thread cannot see), or formatted from args changed after the call.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import pytest

from server.core.request_context import reset_request_id, set_request_id
from server.logging_setup import configure_logging, stop_logging

pytestmark = pytest.mark.unit


@pytest.fixture
def stdout(monkeypatch: pytest.MonkeyPatch):
    buf = io.StringIO()
    monkeypatch.setattr(sys, "stdout", buf)
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    configure_logging("INFO")
    yield buf
    stop_logging()
    root.handlers[:] = saved
    root.setLevel(level)


def _lines(buf: io.StringIO) -> list[dict]:
    stop_logging()  # flushes the queue: the listener writes everything before it stops
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


def test_records_are_written_by_the_listener_with_the_callers_request_id(stdout):
    """The request id lives in a context variable; the listener thread formats later, so the
    handler must capture it at the call, or every access-log line would lose its id."""
    token = set_request_id("req-42")
    try:
        logging.getLogger("server.access").info("request", extra={"path": "/x", "status": 200})
    finally:
        reset_request_id(token)
    logging.getLogger("server.app").warning("no request here")
    lines = _lines(stdout)
    assert [line["msg"] for line in lines] == ["request", "no request here"]
    assert lines[0]["requestId"] == "req-42"
    assert lines[0]["path"] == "/x" and lines[0]["status"] == 200
    assert "requestId" not in lines[1]


def test_message_is_frozen_at_the_call_and_query_strings_redacted(stdout):
    """Formatting in another thread must not see args mutated after the call; the query
    string filter (WebSocket tickets) must still apply."""
    items = ["a"]
    logging.getLogger("app").info("items %s", items)
    items.append("b")
    logging.getLogger("uvicorn.error").info('"WebSocket %s" accepted', "/ws?ticket=secret")
    lines = _lines(stdout)
    assert lines[0]["msg"] == "items ['a']"
    assert "secret" not in lines[1]["msg"] and "?[redacted]" in lines[1]["msg"]


def test_exceptions_keep_their_traceback(stdout):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("app").exception("failed")
    (line,) = _lines(stdout)
    assert "ValueError: boom" in line["exc"]


def test_uvicorn_logs_follow_the_root_level_after_uvicorns_own_config():
    """Bug: an in-process uvicorn configured with `log_level="warning"` (tests, scripts)
    left the `uvicorn` logger at WARNING; `configure_logging` routed `uvicorn.error` to the
    root handler but kept that level, so its INFO lines (WebSocket handshakes) vanished
    (test_message_is_frozen_... failed only in a full run). Run in a fresh interpreter:
    uvicorn's `dictConfig` would close pytest's own logging handlers."""
    script = (
        "import logging, uvicorn\n"
        "from server.logging_setup import configure_logging, stop_logging\n"
        "uvicorn.Config(app=lambda *a: None, log_level='warning').configure_logging()\n"
        "configure_logging('INFO')\n"
        "logging.getLogger('uvicorn.error').info('handshake %s', '/ws')\n"
        "stop_logging()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert [line["msg"] for line in lines] == ["handshake /ws"]
