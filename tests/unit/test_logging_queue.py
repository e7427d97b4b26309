"""Logs go through a queue (issue 18): the event loop enqueues, a thread writes JSON lines.

Each test would fail if records were lost, written without their request id (a context
variable the listener thread cannot see), or formatted from args changed after the call.
"""

from __future__ import annotations

import asyncio
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


def _formatter_line(request_id: str, **extra: object) -> dict:
    """What the JSON formatter writes for `log.info("request", extra=...)` under this id."""
    from server.logging_setup import JsonFormatter

    record = logging.getLogger("server.access").makeRecord(
        "server.access", logging.INFO, __file__, 1, "request", None, None, extra=extra
    )
    token = set_request_id(request_id)
    try:
        return json.loads(JsonFormatter().format(record))
    finally:
        reset_request_id(token)


def test_access_line_is_the_formatters_line_with_path_quoting(stdout):
    """The access log is formatted on the loop without a LogRecord (third round of issue
    18); it must stay the same JSON object, keys in the same order, and quote any path."""
    from server.logging_setup import access_line

    path = '/api/v1/notes/a"b\\c/é'
    access_line("GET", path, 200, 1.25, "rid-1")
    access_line("WS", "/ws", None, 0.5, "rid-2")
    first, second = _lines(stdout)
    expected = _formatter_line("rid-1", method="GET", path=path, status=200, durationMs=1.25)
    assert list(first) == list(expected)
    assert {k: v for k, v in first.items() if k != "ts"} == {
        k: v for k, v in expected.items() if k != "ts"
    }
    assert second["status"] is None and second["requestId"] == "rid-2"
    assert first["ts"].endswith("Z") and len(first["ts"]) == len("2026-01-01T00:00:00.000Z")


async def test_access_lines_are_handed_over_in_batches_and_flushed_at_stop(stdout):
    """Each access line used to be one queue hand-off, waking the writer thread per
    request; now lines wait in the loop for one hand-off per batch, and stopping the
    logging (process exit) writes whatever still waits."""
    from server import logging_setup

    for n in range(5):
        logging_setup.access_line("GET", f"/x/{n}", 200, 0.1, f"rid-{n}")
    assert logging_setup._records is not None and logging_setup._records.qsize() == 0
    assert len(logging_setup._access.lines) == 5
    assert logging_setup._access.scheduled is asyncio.get_running_loop()
    logging_setup._access.flush()  # what the loop's timer calls
    assert logging_setup._records.qsize() <= 1  # one record for the batch (maybe taken)
    logging_setup.access_line("GET", "/late", 200, 0.1, "rid-late")
    lines = _lines(stdout)  # stop_logging: the late line is written too
    assert [line["path"] for line in lines] == [*(f"/x/{n}" for n in range(5)), "/late"]


async def test_access_flush_timer_is_renewed_on_a_new_loop(stdout):
    """Regression: the 'flush scheduled' flag outlived the loop that would run the timer (a
    loop closed with a line waiting), so on the next loop lines waited for the batch to
    fill instead of being written within ACCESS_FLUSH_SECONDS."""
    from server import logging_setup

    logging_setup._access.scheduled = asyncio.new_event_loop()  # an old loop's timer
    logging_setup._access.scheduled.close()
    logging_setup.access_line("GET", "/renewed", 200, 0.1, "rid-r")
    assert logging_setup._access.scheduled is asyncio.get_running_loop()
    await asyncio.sleep(logging_setup.ACCESS_FLUSH_SECONDS + 0.05)  # let the timer run
    assert logging_setup._access.lines == [] and logging_setup._access.scheduled is None
    assert [line["path"] for line in _lines(stdout)] == ["/renewed"]


def test_access_log_follows_the_level_and_falls_back_without_our_queue(stdout, caplog):
    """LOG_LEVEL=WARNING silences the access log; when logging is not ours (stopped, or a
    harness configured it) the access line is an ordinary record, never lost."""
    from server.logging_setup import access_line

    logging.getLogger().setLevel(logging.WARNING)
    access_line("GET", "/quiet", 200, 0.1, "rid-q")
    assert _lines(stdout) == []  # stops our queue too
    logging.getLogger().setLevel(logging.INFO)
    with caplog.at_level(logging.INFO, logger="server.access"):
        access_line("GET", "/plain", 201, 0.2, "rid-p")
    (record,) = [r for r in caplog.records if r.name == "server.access"]
    assert record.getMessage() == "request" and record.path == "/plain"
    assert record.status == 201 and record.requestId == "rid-p"
