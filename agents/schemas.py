"""Wire types of the chat API (camelCase JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from server.core.wire import Input, Output

AgentName = Annotated[str, msgspec.Meta(min_length=1, max_length=30)]


class SessionCreate(Input):
    agent: AgentName | None = None
    title: Annotated[str, msgspec.Meta(max_length=200)] = ""


class MessageCreate(Input):
    """Our body (`content`, `agent`) or the AI SDK's (`id`, `messages`, `trigger`,
    `messageId`: what `useChat` sends); see docs/mcp.md."""

    # The 10,000-character rule is checked by the chat service (MESSAGE_TOO_LONG), and so is
    # an empty message (MESSAGE_EMPTY).
    content: Annotated[str, msgspec.Meta(max_length=100_000)] = ""
    agent: AgentName | None = None
    id: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    messages: Annotated[list[dict[str, Any]], msgspec.Meta(max_length=500)] | None = None
    trigger: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    message_id: Annotated[str, msgspec.Meta(max_length=100)] | None = None


class ApprovalDecision(Input):
    approve: bool


class ApprovalView(Output):
    id: str
    agent: str
    tool: str
    args: dict[str, Any]
    description: str
    status: str
    created_at: datetime
    decided_at: datetime | None = None


class SessionView(Output):
    id: str
    agent: str | None
    title: str
    last_agent: str | None
    message_count: int
    created_at: datetime
    updated_at: datetime
    pending_approvals: list[ApprovalView] = msgspec.field(default_factory=list)


class SessionPage(Output):
    items: list[SessionView]
    next_cursor: str | None


class Citation(Output, omit_defaults=True):
    """A source an answer's `[index]` marker points at: the note body's [start, end) is the
    cited chunk (`page` for a document note)."""

    index: int
    note_id: str
    chunk_id: str
    title: str
    heading_path: list[str]
    start: int
    end: int
    page: int | None = None


class MessageView(Output):
    id: str
    session_id: str
    role: str
    content: str
    agent: str | None
    status: str
    tools: list[dict[str, Any]]
    usage: dict[str, int] | None
    created_at: datetime
    citations: list[Citation] = msgspec.field(default_factory=list)


class MessagePage(Output):
    items: list[MessageView]
    next_cursor: str | None


class AgentView(Output):
    name: str
    title: str
    description: str
    tools: list[str]


class AgentPage(Output):
    """The agents a chat can talk to (one page: `nextCursor` is always null)."""

    items: list[AgentView]
    next_cursor: str | None = None
