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

    agent: Literal["personal", "family", "workspace", "knowledge", "commerce", "security"] = Field(
        description="One of: personal, family, workspace, knowledge, commerce, security"
    )


# Questions about what the user wrote (or asks to be remembered) go to the knowledge agent
# before any LLM or keyword routing: the phrasing is unambiguous and cheap to recognise.
KNOWLEDGE_PATTERNS = re.compile(
    r"\b("
    r"what (did|have) i (write|written|wrote|note|noted|jot|jotted)"
    r"|did i (write|note|jot)"
    r"|i (wrote|noted) (down )?(about|on)"
    r"|what (do|does|did) my notes? (say|said|mention)"
    r"|(in|from|according to|search|check) my notes"
    r"|find (me )?my notes? (on|about|for|called|titled)"
    r"|(where|which note) did i (write|put|note)"
    r"|remember that"
    r"|what do you remember"
    r")\b",
    re.IGNORECASE,
)


def pattern_route(text: str) -> str | None:
    """`knowledge` when the message asks about the user's notes or memories, else None."""
    return "knowledge" if KNOWLEDGE_PATTERNS.search(text) else None


def router_prompt() -> str:
    lines = [f"- {a.name}: {a.description}" for a in AGENTS.values()]
    return (
        "Pick the assistant that should answer the user's message. Assistants:\n"
        + "\n".join(lines)
        + "\nAnswer with the assistant's name only."
    )


def keyword_route(text: str) -> str:
    """The knowledge agent for a knowledge pattern, else the agent whose keywords the message
    mentions most (ties: catalogue order)."""
    if (by_pattern := pattern_route(text)) is not None:
        return by_pattern
    lowered = text.lower()
    best, best_score = DEFAULT_AGENT, 0
    for spec in AGENTS.values():
        score = sum(1 for k in spec.keywords if re.search(rf"\b{re.escape(k)}", lowered))
        if score > best_score:
            best, best_score = spec.name, score
    return best


async def route(text: str, llm: BaseChatModel | None, *, timeout: float = 10.0) -> tuple[str, str]:
    """(agent, how) where how is "llm" or "keywords" (a knowledge pattern counts as keywords)."""
    if (by_pattern := pattern_route(text)) is not None:
        return by_pattern, "keywords"
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
