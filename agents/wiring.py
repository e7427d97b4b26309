"""How the agents join the app (called by `server/app.py`, the composition root)."""

from __future__ import annotations

from typing import Any

from agents.chat import ChatService
from agents.checkpoint import MongoCheckpointSaver
from agents.config import AgentsConfig
from agents.documents import AGENT_DOCUMENT_MODELS
from agents.llm import OllamaFactory
from agents.routes import ROUTE_HANDLERS

AGENT_ROUTE_HANDLERS: list[Any] = ROUTE_HANDLERS

__all__ = ["AGENT_DOCUMENT_MODELS", "AGENT_ROUTE_HANDLERS", "attach_agents"]


async def attach_agents(services: Any, config: AgentsConfig, db_name: str) -> ChatService:
    """Build the chat service (Ollama factory, Mongo checkpointer) onto `services.chat`."""
    checkpointer = MongoCheckpointSaver(services.mongo[db_name])
    await checkpointer.setup()
    chat = ChatService(
        services=services,
        config=config,
        llm_factory=OllamaFactory(config),
        checkpointer=checkpointer,
        redis=services.redis,
    )
    services.chat = chat
    return chat


def llm_health_check(services: Any) -> Any:
    """A non-critical readiness check: the LLM down makes the api degraded, not down."""

    async def llm_probe() -> None:
        await services.chat.llm_factory.probe()

    return (llm_probe, False)
