"""Tools are typed wrappers of one manager method each.

A `ToolSpec` has a name, a description, a *flat* argument Struct (langchain-ollama flattens
nested object arguments to a bare object schema, so every argument is a scalar), an area,
`mutating` and `needs_approval`. A tool runs with the user's `Actor` on channel `agent` and
calls the manager like any route would: the manager decides what is allowed.

Arguments are msgspec Structs built from the same constrained types as the wire schemas
(`Amount`, `Reason`, ...), converted with `msgspec.convert`: a value the HTTP API refuses
with 422 `VALIDATION_ERROR` is refused here with the same error, and the tool then builds
the manager's command with `server.core.wire.convert`, which the manager validates again.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from pydantic import BaseModel

from agents.citations import Sources
from server.core.actor import Actor
from server.core.wire import invalid

if TYPE_CHECKING:  # type-only: the composition root builds it and hands it down
    from server.compose.services import Managers


class ToolArgs(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every argument Struct: flat, unknown fields refused."""


class NoArgs(ToolArgs):
    pass


@dataclass(frozen=True, slots=True)
class ToolContext:
    services: Managers  # the domain's managers: no connections, no trusted ledger
    actor: Actor  # the user's actor, channel "agent"
    call_id: str  # the model's tool call id (stable across a resume: used for idempotency)
    sources: Sources | None = None  # the run's numbered sources (notes_search adds to them)


ToolFn = Callable[[ToolContext, Any], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    area: str
    args: type[ToolArgs]
    run: ToolFn
    mutating: bool = False
    needs_approval: bool = False

    def schema(self) -> dict[str, Any]:
        """The function schema handed to the model (OpenAI/Ollama tool format)."""
        whole = msgspec.json.schema(self.args)
        params = dict(whole.get("$defs", {}).get(self.args.__name__, whole))
        params.pop("title", None)
        params.pop("description", None)
        params.setdefault("properties", {})
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": params},
        }

    def parse(self, raw: dict[str, Any] | None) -> ToolArgs:
        """The model's arguments as the tool's Struct; 422 `VALIDATION_ERROR` when a value
        breaks a limit (lax: a number sent as a string is still a number)."""
        try:
            return msgspec.convert(raw or {}, self.args, strict=False)
        except msgspec.ValidationError as exc:
            raise invalid(exc) from None

    def describe(self, args: dict[str, Any]) -> str:
        """A one-line summary of the exact action, shown with an approval request."""
        shown = ", ".join(f"{k}={v!r}" for k, v in args.items() if v is not None)
        return f"{self.name}({shown})"


class Registry:
    def __init__(self) -> None:
        self._tools: dict[str, ToolSpec] = {}

    def add(self, spec: ToolSpec) -> ToolSpec:
        if spec.name in self._tools:
            raise ValueError(f"tool {spec.name!r} registered twice")
        self._tools[spec.name] = spec
        return spec

    def tool(
        self,
        name: str,
        description: str,
        *,
        area: str,
        args: type[ToolArgs] = NoArgs,
        mutating: bool = False,
        needs_approval: bool = False,
    ) -> Callable[[ToolFn], ToolFn]:
        def decorate(fn: ToolFn) -> ToolFn:
            self.add(
                ToolSpec(
                    name=name,
                    description=description,
                    area=area,
                    args=args,
                    run=fn,
                    mutating=mutating,
                    needs_approval=needs_approval,
                )
            )
            return fn

        return decorate

    def get(self, name: str) -> ToolSpec | None:
        return self._tools.get(name)

    def __getitem__(self, name: str) -> ToolSpec:
        return self._tools[name]

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def all(self) -> list[ToolSpec]:
        return list(self._tools.values())

    def select(self, names: Iterable[str]) -> list[ToolSpec]:
        return [self._tools[n] for n in names]


REGISTRY = Registry()


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return msgspec.to_builtins(value)


def render_result(value: Any, max_chars: int) -> str:
    """The tool result as compact JSON, trimmed to `max_chars` for the model.

    Long lists are shortened item by item (with a note of how many were left out) so the
    model still sees valid JSON; anything still too long is cut.
    """
    data = to_jsonable(value)
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    if len(text) <= max_chars:
        return text
    key: str | None = None
    target: list[Any] | None = None
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        key, target = "items", data["items"]
    elif isinstance(data, list):
        target = data
    if target is not None:
        total = keep = len(target)
        while keep > 1:
            keep //= 2
            note = {"trimmed": f"{total - keep} of {total} items left out"}
            shaped: Any = (
                {**data, "items": target[:keep], **note}
                if key
                else {"items": target[:keep], **note}
            )
            text = json.dumps(shaped, separators=(",", ":"), ensure_ascii=False)
            if len(text) <= max_chars:
                return text
    return text[: max(0, max_chars - 20)] + "…[trimmed]"
