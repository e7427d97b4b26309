"""One agent as a LangGraph graph: model -> (approval) -> tools -> model, bounded.

`compile_agent_graph(agent, llm)` compiles the graph once per agent and model; who it acts
for comes with each run, in `config["configurable"]["agent_context"]` (an `AgentContext`:
services + the user's actor). `build_agent_graph(agent, services, actor, llm)` is that graph
bound to one user. Tools run with `actor.with_channel("agent")` and call the managers, so
the manager's permission checks hold. A tool with `needs_approval` pauses the run with
`interrupt(...)` (payload: approvalId, tool, args, description); resume it with
`Command(resume={"approve": bool})`.
Tool progress is written to the custom stream (`{"type": "tool.start"|"tool.end", ...}`).

The graph is usable on its own (the voice agent streams it with stream_mode="messages");
`agents.chat` adds sessions, persistence and SSE on top.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypedDict

import msgspec
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import interrupt

from agents.catalog import AGENTS
from agents.citations import Sources
from agents.config import AgentLimits
from agents.tools import REGISTRY, ToolContext, ToolSpec
from agents.tools.registry import Registry, render_result
from server.core.actor import Actor
from server.core.errors import DomainError

if TYPE_CHECKING:  # type-only: the composition root builds it and hands it down
    from server.compose.services import Managers

log = logging.getLogger("agents.graph")

ANSWER_NODE = "agent"  # the node whose tokens are the answer
CONTEXT_KEY = "agent_context"


@dataclass(frozen=True, slots=True)
class AgentContext:
    """Who a run acts for: the services (managers) and the user's actor; `sources` are the
    run's numbered search hits (what its `[n]` citations may point at), `recalled` the
    memories recalled for its user message."""

    services: Managers  # the domain's managers: no connections, no trusted ledger
    actor: Actor
    sources: Sources = field(default_factory=Sources)
    recalled: dict[str, str] = field(default_factory=dict)  # user text -> memory block

    def for_config(self) -> dict[str, Any]:
        return {
            CONTEXT_KEY: AgentContext(
                self.services, self.actor.with_channel("agent"), self.sources, self.recalled
            )
        }

    async def seed_sources(self, window: list[AnyMessage]) -> None:
        """Number the earlier search hits the model sees in `window` as this run's sources
        (once per run; see `Sources.seed`)."""
        if self.sources.seeded:
            return

        async def body_of(note_id: str) -> str | None:
            try:
                return (await self.services.notes.get(self.actor, note_id)).body
            except DomainError:
                return None

        results = [
            m.content
            for m in window
            if isinstance(m, ToolMessage)
            and m.name == "notes_search"
            and m.status == "success"
            and isinstance(m.content, str)
        ]
        await self.sources.seed(results, body_of)

    async def memory_block(self, text: str) -> str:
        """The user's memories relevant to `text`, as a system-prompt paragraph ("" when
        none): recalled once per user message, not per model call of the run."""
        if not text:
            return ""
        if text not in self.recalled:
            try:
                found = await self.services.memories.recall(self.actor, text)
            except DomainError:  # e.g. a token without notes:read: no memories, no failure
                found = []
            lines = [f"- {m.text} (memory {m.id})" for m in found]
            self.recalled[text] = (
                "What the user asked you to remember that may matter here (use it when "
                "relevant; memory_update corrects one):\n" + "\n".join(lines)
                if lines
                else ""
            )
        return self.recalled[text]


def agent_context(config: RunnableConfig | dict[str, Any]) -> AgentContext:
    ctx = (config.get("configurable") or {}).get(CONTEXT_KEY)
    if not isinstance(ctx, AgentContext):
        raise RuntimeError("an agent graph runs with configurable.agent_context set")
    return ctx


class AgentState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    steps: int  # tool rounds in the current run
    decisions: dict[str, bool]  # approval decisions of the pending tool calls


def _context(messages: list[AnyMessage], keep: int) -> list[AnyMessage]:
    window = list(messages[-keep:]) if keep > 0 else list(messages)
    while window and isinstance(window[0], ToolMessage):
        window.pop(0)
    return window


def _last_user_text(messages: list[AnyMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message.text
    return ""


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def build_agent_graph(
    agent: str,
    services: Managers,
    actor: Actor,
    llm: BaseChatModel,
    *,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    limits: AgentLimits | None = None,
    registry: Registry = REGISTRY,
) -> Any:
    """The graph of agent `agent` acting as `actor` (on channel "agent"), ready to stream:
    `await graph.ainvoke(run_input("..."), {"configurable": {"thread_id": ...}})`."""
    graph = compile_agent_graph(
        agent, llm, checkpointer=checkpointer, limits=limits, registry=registry
    )
    return graph.with_config(configurable=AgentContext(services, actor).for_config())


def compile_agent_graph(
    agent: str,
    llm: BaseChatModel,
    *,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    limits: AgentLimits | None = None,
    registry: Registry = REGISTRY,
) -> Any:
    """The compiled graph of `agent` (compile once, run for any user via agent_context)."""
    spec = AGENTS[agent]
    limits = limits or AgentLimits()
    tools: dict[str, ToolSpec] = {t.name: t for t in registry.select(spec.tools)}
    bound = llm.bind_tools([t.schema() for t in tools.values()])

    def parsed(call: Any) -> tuple[ToolSpec | None, Any, str | None]:
        tool = tools.get(call["name"])
        if tool is None:
            return None, None, f"Unknown tool {call['name']!r}."
        try:
            return tool, tool.parse(call.get("args")), None
        except DomainError as exc:
            return tool, None, f"Invalid arguments: {exc.message} {exc.details}"

    async def model_node(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        ctx = agent_context(config)
        history = state.get("messages", [])
        window = _context(history, limits.context_messages)
        await ctx.seed_sources(window)
        prompt = spec.system_prompt(ctx.actor.username)
        memories = await ctx.memory_block(_last_user_text(history))
        system = SystemMessage(f"{prompt}\n\n{memories}" if memories else prompt)
        messages = [system, *window]
        response = await bound.ainvoke(messages)
        if isinstance(response, AIMessage) and response.tool_calls:
            # Every call needs a stable id: it names the approval and the idempotency key.
            calls = [
                {**tc, "id": tc.get("id") or f"call_{uuid.uuid4().hex[:16]}"}
                for tc in response.tool_calls
            ]
            response = response.model_copy(update={"tool_calls": calls})
        return {"messages": [response]}

    def after_model(state: AgentState) -> Literal["approve", "tools", "limit", "__end__"]:
        last = state["messages"][-1]
        if not isinstance(last, AIMessage) or not last.tool_calls:
            return "__end__"
        if state.get("steps", 0) >= limits.max_tool_steps:
            return "limit"
        for call in last.tool_calls:
            tool, args, _ = parsed(call)
            if tool is not None and args is not None and tool.needs_approval:
                return "approve"
        return "tools"

    async def approve_node(state: AgentState) -> dict[str, Any]:
        """Ask for each approval in turn (no side effects here: a resume re-runs this node)."""
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        decisions: dict[str, bool] = {}
        for call in last.tool_calls:
            tool, args, _ = parsed(call)
            if tool is None or args is None or not tool.needs_approval:
                continue
            shown = {k: v for k, v in msgspec.structs.asdict(args).items() if v is not None}
            call_id = str(call["id"])
            answer = interrupt(
                {
                    "approvalId": call_id,
                    "agent": agent,
                    "tool": tool.name,
                    "area": tool.area,
                    "args": shown,
                    "description": tool.describe(shown),
                }
            )
            approve = answer.get("approve") if isinstance(answer, dict) else answer
            decisions[call_id] = approve is True
        return {"decisions": decisions}

    async def tools_node(state: AgentState, config: RunnableConfig) -> dict[str, Any]:
        ctx = agent_context(config)
        # A resumed run starts here: take over the searches made before the pause first.
        await ctx.seed_sources(_context(state["messages"][:-1], limits.context_messages))
        write = get_stream_writer()
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        decisions = state.get("decisions") or {}
        results: list[ToolMessage] = []
        for call in last.tool_calls:
            tool, args, problem = parsed(call)
            call_id = str(call["id"])
            name = call["name"]
            write(
                {
                    "type": "tool.start",
                    "data": {"toolCallId": call_id, "tool": name, "args": call.get("args") or {}},
                }
            )
            status = "ok"
            if problem is not None or tool is None:
                status, payload = "error", _error("INVALID_TOOL_CALL", problem or "")
            elif tool.needs_approval and not decisions.get(call_id, False):
                status = "denied"
                payload = _error("DENIED", "The user declined this action; nothing was done.")
            else:
                try:
                    value = await tool.run(
                        ToolContext(
                            services=ctx.services,
                            actor=ctx.actor,
                            call_id=call_id,
                            sources=ctx.sources,
                        ),
                        args,
                    )
                    payload = value
                except DomainError as exc:
                    status, payload = "error", _error(exc.code, exc.message)
                except Exception:
                    log.exception("tool failed", extra={"tool": name})
                    status = "error"
                    payload = _error("TOOL_FAILED", "The tool failed unexpectedly.")
            content = render_result(payload, limits.tool_result_max_chars)
            write(
                {
                    "type": "tool.end",
                    "data": {
                        "toolCallId": call_id,
                        "tool": name,
                        "status": status,
                        "result": content,
                    },
                }
            )
            results.append(
                ToolMessage(
                    content=content,
                    tool_call_id=call_id,
                    name=name,
                    status=("success" if status == "ok" else "error"),
                )
            )
        return {"messages": results, "steps": state.get("steps", 0) + 1, "decisions": {}}

    async def limit_node(state: AgentState) -> dict[str, Any]:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        skipped = [
            ToolMessage(
                content=render_result(_error("STEP_LIMIT", "Not run: too many tool steps."), 200),
                tool_call_id=call["id"],
                name=call["name"],
                status="error",
            )
            for call in last.tool_calls
        ]
        note = AIMessage(
            content=f"I stopped after {limits.max_tool_steps} tool steps for one request. "
            "Please ask again more specifically."
        )
        return {"messages": [*skipped, note]}

    graph = StateGraph(AgentState)
    graph.add_node(ANSWER_NODE, model_node)
    graph.add_node("approve", approve_node)
    graph.add_node("tools", tools_node)
    graph.add_node("limit", limit_node)
    graph.add_edge(START, ANSWER_NODE)
    graph.add_conditional_edges(ANSWER_NODE, after_model, ["approve", "tools", "limit", END])
    graph.add_edge("approve", "tools")
    graph.add_edge("tools", ANSWER_NODE)
    graph.add_edge("limit", END)
    return graph.compile(checkpointer=checkpointer, name=f"{agent}_agent")


def run_input(text: str) -> dict[str, Any]:
    """The input of one user turn (resets the per-run counters)."""
    return {"messages": [HumanMessage(content=text)], "steps": 0, "decisions": {}}
