"""The one LLM factory: `ChatOllama` from the configuration, and a reachability probe.

The chat service asks the factory for a model per agent (`factory.chat_model("family")`) and,
before it opens a stream, whether the LLM is reachable (`await factory.ensure_available()`),
so an unreachable Ollama answers 503 `LLM_UNAVAILABLE` instead of a broken stream. Tests and
benchmarks replace the factory on the chat service with a scripted one (agents/scripted.py).
"""

from __future__ import annotations

import time
from typing import Protocol

import httpx
from langchain_core.language_models import BaseChatModel

from agents.config import AgentsConfig
from server.core.errors import ServiceUnavailable


class LLMUnavailable(ServiceUnavailable):
    code = "LLM_UNAVAILABLE"


# Exceptions that mean "the LLM server could not be reached or answered badly".
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    httpx.TransportError,
    ConnectionError,
    TimeoutError,
)


class LLMFactory(Protocol):
    def chat_model(self, agent: str) -> BaseChatModel: ...

    async def ensure_available(self) -> None:
        """Raise `LLMUnavailable` when the LLM cannot be reached."""
        ...

    async def probe(self) -> None:
        """The health check: raise when the LLM cannot be reached (never cached)."""
        ...

    def mark_unavailable(self) -> None:
        """A call could not connect: check again before the next message."""
        ...


class OllamaFactory:
    """`ChatOllama` per agent (the model configurable per agent), with timeouts everywhere."""

    def __init__(self, config: AgentsConfig, *, ok_cache_seconds: float = 15.0) -> None:
        self.config = config
        self._ok_until = 0.0
        self._ok_cache_seconds = ok_cache_seconds

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.config.read_timeout, connect=self.config.connect_timeout)

    def chat_model(self, agent: str) -> BaseChatModel:
        from langchain_ollama import ChatOllama

        return ChatOllama(
            base_url=self.config.ollama_url,
            model=self.config.model_for(agent),
            temperature=self.config.temperature,
            client_kwargs={"timeout": self._timeout()},
        )

    async def probe(self) -> None:
        async with httpx.AsyncClient(
            base_url=self.config.ollama_url, timeout=self.config.probe_timeout
        ) as client:
            response = await client.get("/api/tags")
            response.raise_for_status()

    async def ensure_available(self) -> None:
        if time.monotonic() < self._ok_until:
            return
        try:
            await self.probe()
        except Exception as exc:
            raise LLMUnavailable(
                "The language model is not reachable right now. Try again later."
            ) from exc
        self._ok_until = time.monotonic() + self._ok_cache_seconds

    def mark_unavailable(self) -> None:
        """A call failed to connect: probe again before the next message."""
        self._ok_until = 0.0
