"""The LangGraph agent as a LiveKit LLM, through `livekit-plugins-langchain`'s `LLMAdapter`.

The stock adapter streams every message the graph emits in "messages" mode — tool results
included — so a tool's JSON would be read aloud. `VoiceGraphLLM` keeps the adapter (LiveKit
sees an ordinary LLM: chunks, TTFT metrics, cancellation) but its stream takes the text
from `VoiceTurns.answer`, which passes only the answering node's tokens, and feeds the graph
only the newest user utterance (the rest of the conversation is in the graph's checkpoint).
"""

from __future__ import annotations

import logging
from typing import Any

from livekit.agents import llm
from livekit.agents.llm.chat_context import ChatContext
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from livekit.plugins.langchain import LLMAdapter
from livekit.plugins.langchain.langgraph import LangGraphStream, _to_chat_chunk

from agents.voice.turns import SPOKEN_FAILURE, VoiceTurns

log = logging.getLogger("agents.voice.llm")


def last_user_text(chat_ctx: ChatContext) -> str:
    for message in reversed(chat_ctx.messages()):
        if message.role == "user":
            return message.text_content or ""
    return ""


class VoiceGraphLLM(LLMAdapter[Any]):
    def __init__(self, turns: VoiceTurns) -> None:
        # The graph itself is built per agent by `turns`; the adapter never streams it raw.
        super().__init__(graph=_NoRawGraph(), stream_mode="messages")  # type: ignore[arg-type]
        self.turns = turns

    @property
    def model(self) -> str:
        return f"langgraph:{self.turns.agent or 'router'}"

    def chat(
        self,
        *,
        chat_ctx: ChatContext,
        tools: list[llm.Tool] | None = None,
        conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS,
        **_: Any,
    ) -> VoiceGraphStream:
        return VoiceGraphStream(
            self,
            chat_ctx=chat_ctx,
            tools=tools or [],
            graph=self._graph,
            conn_options=conn_options,
        )


class VoiceGraphStream(LangGraphStream[Any]):
    async def _run(self) -> None:
        adapter = self._llm
        assert isinstance(adapter, VoiceGraphLLM)
        try:
            async for piece in adapter.turns.answer(last_user_text(self._chat_ctx)):
                self._send(piece)
        except Exception:
            # Never retried (a retry would run the tools again); the user hears why.
            log.exception("voice turn failed")
            self._send(SPOKEN_FAILURE)

    def _send(self, piece: str) -> None:
        chunk = _to_chat_chunk(piece)
        if chunk is not None:
            self._event_ch.send_nowait(chunk)


class _NoRawGraph:
    """Stands where the adapter expects a graph; streaming it raw is a bug."""

    def astream(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("VoiceGraphLLM streams through VoiceTurns, never the raw graph")
