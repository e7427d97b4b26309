"""Base msgspec Structs for the wire: camelCase JSON, unknown input fields refused."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

import msgspec

from server.core.errors import Unprocessable


class Input(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True):
    """A request body. Unknown fields are a 422, so a typo never silently does nothing."""


class Output(msgspec.Struct, rename="camel", kw_only=True):
    """A response body or an event payload."""


ObjectIdStr = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{24}$", description="An object id")]
ShortText = Annotated[str, msgspec.Meta(max_length=200)]


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def to_builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)


S = TypeVar("S", bound=msgspec.Struct)


def validate(cmd: S) -> S:
    """`cmd` again, with every limit its type states checked (lengths, ranges, patterns).

    msgspec checks `Meta` constraints only when it decodes or converts, not when Python code
    builds a Struct, so managers call this on every command: HTTP, agent tools, voice and
    the CLI then get the same 422 `VALIDATION_ERROR` for the same bad value.
    """
    try:
        return msgspec.convert(msgspec.to_builtins(cmd), type(cmd))
    except msgspec.ValidationError as exc:
        raise invalid(exc) from None


def convert(data: Any, type_: type[S]) -> S:
    """Build a command from plain data (agent tool arguments, CLI options), checked like
    an HTTP body: a bad value is 422 `VALIDATION_ERROR`."""
    try:
        return msgspec.convert(data, type_)
    except msgspec.ValidationError as exc:
        raise invalid(exc) from None


def invalid(exc: msgspec.ValidationError) -> Unprocessable:
    """The 422 a decode error of an HTTP body gets: the field and what is wrong with it."""
    text = str(exc)
    message, _, path = text.rpartition(" - at `")
    field = path.rstrip("`").removeprefix("$").lstrip(".") if path else "body"
    return Unprocessable(
        "The request is not valid.",
        details=[{"field": field or "body", "source": "body", "message": message or text}],
    )
