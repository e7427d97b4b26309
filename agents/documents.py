"""Chat sessions, messages and approvals (graph checkpoints live in agents/checkpoint.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from server.core.clock import utcnow


class ChatSession(Document):
    user_id: PydanticObjectId
    agent: str | None = None  # fixed agent, or None: the router picks one per message
    title: str = ""
    last_agent: str | None = None
    message_count: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "chat_sessions"
        indexes = [
            IndexModel([("user_id", ASCENDING), ("_id", DESCENDING)], name="user_newest"),
        ]


class ChatMessage(Document):
    session_id: PydanticObjectId
    user_id: PydanticObjectId
    role: str  # user | assistant
    content: str
    agent: str | None = None
    # complete | partial (client went away) | awaiting_approval | error
    status: str = "complete"
    tools: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, int] | None = None
    # the sources its [n] markers point at: {index, noteId, chunkId, title, headingPath,
    # start, end, page?} (agents/citations.py)
    citations: list[dict[str, Any]] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "chat_messages"
        indexes = [
            IndexModel([("session_id", ASCENDING), ("_id", DESCENDING)], name="session_newest"),
        ]


class ChatApproval(Document):
    """A tool call waiting for the user's yes/no: a chat's (the graph is paused at an
    interrupt) or an MCP client's (`source="mcp"`, no chat session: answering it runs the
    tool with the stored arguments)."""

    approval_id: str  # = the tool call id
    session_id: PydanticObjectId | None = None  # None for an MCP approval
    source: str = "chat"  # chat | mcp
    # An MCP approval runs with the scopes of the token that asked (None = a full session).
    scopes: list[str] | None = None
    user_id: PydanticObjectId
    agent: str
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    status: str = "pending"  # pending | approved | denied
    created_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime | None = None

    class Settings:
        name = "chat_approvals"
        indexes = [
            IndexModel(
                [("session_id", ASCENDING), ("approval_id", ASCENDING)],
                unique=True,
                name="session_approval",
            ),
            IndexModel([("session_id", ASCENDING), ("status", ASCENDING)], name="session_status"),
            IndexModel(
                [("user_id", ASCENDING), ("status", ASCENDING), ("_id", DESCENDING)],
                name="user_status",
            ),
            IndexModel([("approval_id", ASCENDING)], name="approval_id"),
        ]


AGENT_DOCUMENT_MODELS: list[Any] = [ChatSession, ChatMessage, ChatApproval]
