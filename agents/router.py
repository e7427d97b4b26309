"""Which agent answers a message: the LLM with a structured output, else keywords."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agents.catalog import AGENTS, DEFAULT_AGENT

log = logging.getLogger("agents.router")


class RouteChoice(BaseModel):
    """The agent that should answer the user's message."""

    agent: Literal["personal", "family", "workspace", "commerce", "security"] = Field(
        description="One of: personal, family, workspace, commerce, security"
    )


def router_prompt() -> str:
    lines = [f"- {a.name}: {a.description}" for a in AGENTS.values()]
    return (
        "Pick the assistant that should answer the user's message. Assistants:\n"
        + "\n".join(lines)
        + "\nAnswer with the assistant's name only."
    )


def keyword_route(text: str) -> str:
    """The agent whose keywords the message mentions most (ties: catalogue order)."""
    lowered = text.lower()
    best, best_score = DEFAULT_AGENT, 0
    for spec in AGENTS.values():
        score = sum(1 for k in spec.keywords if re.search(rf"\b{re.escape(k)}", lowered))
        if score > best_score:
            best, best_score = spec.name, score
    return best


async def route(text: str, llm: BaseChatModel | None, *, timeout: float = 10.0) -> tuple[str, str]:
    """(agent, how) where how is "llm" or "keywords"."""
    if llm is not None:
        try:
            structured = llm.with_structured_output(RouteChoice)
            result = await asyncio.wait_for(
                structured.ainvoke([SystemMessage(router_prompt()), HumanMessage(text)]),
                timeout,
            )
            choice = RouteChoice.model_validate(result)
            return choice.agent, "llm"
        except Exception as exc:  # any failure falls back to keywords
            log.info("router fell back to keywords", extra={"reason": type(exc).__name__})
    return keyword_route(text), "keywords"
