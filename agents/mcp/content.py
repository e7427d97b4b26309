"""MCP resources (the user's spaces and notes, read-only) and prompts (common tasks).

Resources read through the same managers and tools as everything else, as the token's
user: `secondbrain://spaces/{id}` is the space's newest notes, `secondbrain://notes/{id}`
one note. A scope or access problem is an MCP error carrying our error code.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import mcp_types as types
from mcp.shared.exceptions import MCPError

from agents.mcp.execute import run_tool
from agents.tools.registry import Registry, to_jsonable
from server.core.actor import Actor
from server.core.errors import DomainError

if TYPE_CHECKING:  # type-only: the composition root builds it and hands it down
    from server.compose.services import Managers

SPACE_PREFIX = "secondbrain://spaces/"
NOTE_PREFIX = "secondbrain://notes/"
JSON = "application/json"

PROMPTS: dict[str, tuple[str, list[types.PromptArgument], str]] = {
    "summarize_space": (
        "Summarize the newest notes of one of my spaces.",
        [types.PromptArgument(name="space", description="personal, family, workspace or an id")],
        "Use notes_list on the space '{space}' and notes_get on the notes that matter, then "
        "summarize what I have been writing about, with the notes' titles as references.",
    ),
    "weekly_review": (
        "Review my week: wallet activity, notifications and new notes.",
        [],
        "Use wallet_history, notifications_list and notes_list to write a short review of my "
        "week: money in and out, what needs my answer, and what I wrote.",
    ),
    "send_tokens": (
        "Send tokens to someone (asks for approval before anything moves).",
        [
            types.PromptArgument(name="to", description="The recipient's username", required=True),
            types.PromptArgument(name="amount", description="How many tokens", required=True),
        ],
        "Check my balance with wallet_balance, then call wallet_transfer to send {amount} "
        "tokens to {to}. It asks me for approval; tell me what happened.",
    ),
}


class McpContent:
    def __init__(self, *, services: Managers, registry: Registry) -> None:
        self._services = services
        self._registry = registry
        self._templates = types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    name="note",
                    title="A note",
                    uri_template=NOTE_PREFIX + "{noteId}",
                    description="One note with its Markdown text, version, links and backlinks.",
                    mime_type=JSON,
                ),
                types.ResourceTemplate(
                    name="space",
                    title="A space's newest notes",
                    uri_template=SPACE_PREFIX + "{spaceId}",
                    description="The newest notes of a space you can read.",
                    mime_type=JSON,
                ),
            ]
        )
        self._prompts = types.ListPromptsResult(
            prompts=[
                types.Prompt(
                    name=name,
                    title=name.replace("_", " ").capitalize(),
                    description=desc,
                    arguments=args,
                )
                for name, (desc, args, _) in PROMPTS.items()
            ]
        )

    async def list_resources(self, actor: Actor) -> types.ListResourcesResult:
        try:
            spaces = await self._services.spaces.list_mine(actor)
        except DomainError as exc:
            raise _mcp_error(exc) from None
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    name=f"space-{s.id}",
                    title=f"{s.name or s.kind.capitalize()} space",
                    uri=f"{SPACE_PREFIX}{s.id}",
                    description=f"The newest notes of your {s.kind} space.",
                    mime_type=JSON,
                )
                for s in spaces
            ]
        )

    def templates(self) -> types.ListResourceTemplatesResult:
        return self._templates

    async def read(self, actor: Actor, uri: str) -> types.ReadResourceResult:
        if uri.startswith(SPACE_PREFIX):
            tool, raw = "notes_list", {"space": uri[len(SPACE_PREFIX) :], "limit": 50}
        elif uri.startswith(NOTE_PREFIX):
            tool, raw = "notes_get", {"note_id": uri[len(NOTE_PREFIX) :]}
        else:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown resource {uri!r}.")
        spec = self._registry[tool]
        try:
            args = spec.parse(raw)
        except DomainError as exc:
            raise _mcp_error(exc) from None
        outcome = await run_tool(self._services, actor, spec, args, "resource")
        if not outcome.ok:
            error = outcome.payload["error"]
            raise MCPError(code=types.INVALID_PARAMS, message=error["message"], data=error)
        text = json.dumps(to_jsonable(outcome.payload), ensure_ascii=False, default=str)
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type=JSON, text=text)]
        )

    def prompts(self) -> types.ListPromptsResult:
        return self._prompts

    def prompt(self, name: str, arguments: dict[str, str] | None) -> types.GetPromptResult:
        found = PROMPTS.get(name)
        if found is None:
            raise MCPError(code=types.INVALID_PARAMS, message=f"Unknown prompt {name!r}.")
        description, params, template = found
        values = {p.name: "" for p in params}
        values.update({k: str(v)[:200] for k, v in (arguments or {}).items() if k in values})
        missing = [p.name for p in params if p.required and not values.get(p.name)]
        if missing:
            raise MCPError(
                code=types.INVALID_PARAMS, message=f"Missing argument(s): {', '.join(missing)}."
            )
        if "space" in values and not values["space"]:
            values["space"] = "personal"
        return types.GetPromptResult(
            description=description,
            messages=[
                types.PromptMessage(
                    role="user", content=types.TextContent(text=template.format(**values))
                )
            ],
        )


def _mcp_error(exc: DomainError) -> MCPError:
    return MCPError(
        code=types.INVALID_PARAMS,
        message=exc.message,
        data={"code": exc.code, "status": exc.status_code},
    )
