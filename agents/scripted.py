"""A scripted chat model for tests and benchmarks (deterministic, with latency knobs).

LangChain's fake chat models cannot bind tools, and `GenericFakeChatModel` drops tool calls
when it streams; `ScriptedChatModel` adds `bind_tools` and streams text token by token
(after `ttft` seconds, one token every `token_interval` seconds), then the tool calls as
`tool_call_chunks`, then a last chunk with the usage, like a real provider.

A script item is an `AIMessage`, a string, or a callable `(messages) -> AIMessage | str`
(for answers that depend on the conversation). `reply(...)` and `call(...)` build items.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

ScriptItem = AIMessage | str | Callable[[list[BaseMessage]], AIMessage | str]

_TOKEN_RE = re.compile(r"\s*\S+|\s+")


def reply(text: str) -> AIMessage:
    """A plain answer."""
    return AIMessage(content=text)


def call(name: str, args: dict[str, Any] | None = None, text: str = "") -> AIMessage:
    """A tool call (optionally with some text before it)."""
    return AIMessage(
        content=text,
        tool_calls=[
            {
                "name": name,
                "args": args or {},
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "tool_call",
            }
        ],
    )


def split_tokens(text: str) -> list[str]:
    """Words with their leading whitespace: the pieces a provider would stream."""
    return _TOKEN_RE.findall(text)


class ScriptedChatModel(GenericFakeChatModel):
    """Answers from `messages` (a script), in order; records what it was asked."""

    ttft: float = 0.0
    token_interval: float = 0.0
    prompt_tokens_per_message: int = 10
    calls: list[list[BaseMessage]] = Field(default_factory=list)
    bound_tools: list[list[str]] = Field(default_factory=list)
    started_at: list[float] = Field(default_factory=list)
    first_token_at: list[float] = Field(default_factory=list)
    cancelled_at: list[float] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted-chat-model"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> BaseChatModel:
        names = []
        for tool in tools:
            name = getattr(tool, "name", None) or getattr(tool, "__name__", None)
            if name is None and isinstance(tool, dict):
                name = tool.get("name") or tool.get("function", {}).get("name")
            names.append(str(name))
        self.bound_tools.append(names)
        return self

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        self.calls.append(list(messages))
        try:
            item: Any = next(self.messages)
        except StopIteration:
            raise RuntimeError("The scripted model has no more answers.") from None
        if callable(item) and not isinstance(item, AIMessage):
            item = item(list(messages))
        return AIMessage(content=item) if isinstance(item, str) else item

    def _usage(self, messages: list[BaseMessage], message: AIMessage) -> dict[str, int]:
        prompt = self.prompt_tokens_per_message * len(messages)
        completion = len(split_tokens(str(message.content))) + len(message.tool_calls)
        return {
            "input_tokens": prompt,
            "output_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _pieces(self, messages: list[BaseMessage], message: AIMessage) -> list[AIMessageChunk]:
        chunks = [AIMessageChunk(content=piece) for piece in split_tokens(str(message.content))]
        if message.tool_calls:
            chunks.append(
                AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        {
                            "name": tc["name"],
                            "args": json.dumps(tc["args"]),
                            "id": tc.get("id"),
                            "index": i,
                            "type": "tool_call_chunk",
                        }
                        for i, tc in enumerate(message.tool_calls)
                    ],
                )
            )
        chunks.append(
            AIMessageChunk(
                content="",
                usage_metadata=self._usage(messages, message),
                response_metadata={"model_name": "scripted", "done": True},
                chunk_position="last",
            )
        )
        return chunks

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = self._next(messages)
        message = message.model_copy(update={"usage_metadata": self._usage(messages, message)})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = self._next(messages)
        for chunk in self._pieces(messages, message):
            yield ChatGenerationChunk(message=chunk)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._generate(messages, stop)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        message = self._next(messages)
        self.started_at.append(time.monotonic())
        try:
            if self.ttft:
                await asyncio.sleep(self.ttft)
            for i, chunk in enumerate(self._pieces(messages, message)):
                if i and self.token_interval and chunk.content:
                    await asyncio.sleep(self.token_interval)
                if i == 0:
                    self.first_token_at.append(time.monotonic())
                yield ChatGenerationChunk(message=chunk)
        except asyncio.CancelledError:
            self.cancelled_at.append(time.monotonic())
            raise


class ScriptedLLMFactory:
    """An `LLMFactory` that hands out scripted models: one script per agent name, or one for
    all (`default`). `available=False` makes it behave like an unreachable LLM."""

    def __init__(
        self,
        script: Sequence[ScriptItem] | Iterator[ScriptItem] = (),
        *,
        per_agent: dict[str, Sequence[ScriptItem]] | None = None,
        ttft: float = 0.0,
        token_interval: float = 0.0,
        available: bool = True,
    ) -> None:
        self.default = ScriptedChatModel(
            messages=iter(script), ttft=ttft, token_interval=token_interval
        )
        self.models: dict[str, ScriptedChatModel] = {
            name: ScriptedChatModel(messages=iter(items), ttft=ttft, token_interval=token_interval)
            for name, items in (per_agent or {}).items()
        }
        self.available = available
        self.requested: list[str] = []

    def chat_model(self, agent: str) -> BaseChatModel:
        self.requested.append(agent)
        return self.models.get(agent, self.default)

    async def probe(self) -> None:
        if not self.available:
            raise ConnectionError("scripted LLM marked unavailable")

    async def ensure_available(self) -> None:
        if not self.available:
            from agents.llm import LLMUnavailable

            raise LLMUnavailable("The language model is not reachable right now.")

    def mark_unavailable(self) -> None:
        return None
