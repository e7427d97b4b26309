"""Base msgspec Structs for the wire: camelCase JSON, unknown input fields refused."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec


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
