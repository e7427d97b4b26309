"""Post-commit work that need not block the answer, run as tracked tasks of this process.

A manager queues it with `tx.after_commit(lambda: background.spawn(...))`: the client gets
its answer as soon as the transaction committed and the events went out; the task runs
next. Tasks are kept until done, so shutdown (and a test) can `drain()` them; a task that
raises is logged and counted, never retried (callers that need at-least-once delivery use
the SAQ worker or an outbox instead).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("server.core.background")


class Background:
    """A set of running post-commit tasks."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._tasks: set[asyncio.Task[None]] = set()
        self.failures = 0
        self.completed = 0

    def spawn(self, fn: Callable[[], Awaitable[object]]) -> None:
        """Start `await fn()` in a task of its own; returns at once."""
        task = asyncio.get_running_loop().create_task(self._run(fn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, fn: Callable[[], Awaitable[object]]) -> None:
        try:
            await fn()
        except Exception:
            self.failures += 1
            log.exception("background task failed", extra={"background": self.name})
        finally:
            self.completed += 1

    @property
    def running(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait until every task started so far (and any they start) has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
