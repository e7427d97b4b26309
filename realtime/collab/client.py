"""One editor's socket: what it may do, whether its sync handshake is done, and its bounded
outbound queue (in bytes: a client that stops reading is cut with 4008, memory stays flat)."""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from realtime.collab.protocol import CLOSE_SLOW_CONSUMER
from server.core.actor import Actor


class CollabClient:
    def __init__(self, actor: Actor, *, can_write: bool, max_queue_bytes: int) -> None:
        self.id = uuid.uuid4().hex
        self.actor = actor
        self.can_write = can_write
        # Live updates reach a client only after it got our sync step 2 (PR #138 of
        # pycrdt-websocket: an update before the handshake makes yjs throw).
        self.synced = False
        self.awareness_ids: set[int] = set()
        self.queue: deque[bytes] = deque()
        self.queued_bytes = 0
        self.max_queue_bytes = max_queue_bytes
        self.close_code: int | None = None
        self.close_reason = ""
        self.told_read_only_at = 0.0
        self.writer_task: asyncio.Task[Any] | None = None
        self.sending = False
        self._wake = asyncio.Event()

    @property
    def closing(self) -> bool:
        return self.close_code is not None

    def send(self, data: bytes) -> None:
        if self.close_code is not None:
            return
        if self.queued_bytes + len(data) > self.max_queue_bytes and self.queue:
            self.close(CLOSE_SLOW_CONSUMER, "slow consumer")
            return
        self.queue.append(data)
        self.queued_bytes += len(data)
        self._wake.set()

    def close(self, code: int, reason: str = "") -> None:
        """End the connection from any callback; the writer sends the close frame."""
        if self.close_code is not None:
            return
        self.close_code = code
        self.close_reason = reason
        self.queue.clear()
        self.queued_bytes = 0
        self._wake.set()
        if self.sending and self.writer_task is not None:
            self.writer_task.cancel()  # a send blocked on a client that does not read

    async def outgoing(self) -> AsyncIterator[bytes]:
        while self.close_code is None:
            if not self.queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            data = self.queue.popleft()
            self.queued_bytes -= len(data)
            yield data
