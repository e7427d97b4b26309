"""Transcripts, live: each final user and agent turn is published to `user:{id}` as
`voice.transcript` (the chat service stores them in the chat session, marked
`channel: "voice"`; see turns.py), and its latency figures go to the metrics recorder.

Conversation items arrive as synchronous LiveKit events; one consumer task publishes them
in order, so a client sees the conversation as it was spoken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from agents.voice.metrics import TurnMetricsRecorder
from agents.voice.schemas import TRANSCRIPT, TranscriptEvent
from server.core.channels import user_channel

if TYPE_CHECKING:  # type-only: the composition root builds it and hands it down
    from agents.voice.turns import VoiceTurns
    from server.compose.services import Services

log = logging.getLogger("agents.voice.transcripts")


class TranscriptPublisher:
    def __init__(
        self, *, services: Services, turns: VoiceTurns, metrics: TurnMetricsRecorder | None = None
    ) -> None:
        self.services = services
        self.turns = turns
        self.metrics = metrics or TurnMetricsRecorder(chat_session_id=turns.chat_session_id)
        self.published: list[TranscriptEvent] = []
        self._queue: asyncio.Queue[TranscriptEvent | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def attach(self, session: Any) -> None:
        session.on("conversation_item_added", self._on_item)
        self._task = asyncio.create_task(self._consume())

    def _on_item(self, event: Any) -> None:
        item = event.item
        role = getattr(item, "role", None)
        if role not in ("user", "assistant"):
            return
        interrupted = bool(getattr(item, "interrupted", False))
        self.metrics.on_item(role, getattr(item, "metrics", None), interrupted=interrupted)
        text = (item.text_content or "").strip()
        if not text:
            return
        self._queue.put_nowait(
            TranscriptEvent(
                chat_session_id=self.turns.chat_session_id,
                role=role,
                text=text,
                message_id=self.turns.last_message_id if role == "assistant" else None,
                interrupted=interrupted,
            )
        )

    async def _consume(self) -> None:
        while (event := await self._queue.get()) is not None:
            try:
                await self.services.bus.publish(
                    user_channel(self.turns.actor.user_id), TRANSCRIPT, event
                )
                self.published.append(event)
            except Exception:
                log.exception("could not publish a voice transcript")

    async def drain(self) -> None:
        """Wait until every item received so far is published."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = asyncio.create_task(self._consume())

    async def aclose(self) -> None:
        if self._task is not None:
            self._queue.put_nowait(None)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
