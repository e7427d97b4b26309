"""Wire types for API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from server.core.wire import Input, Output

TokenName = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Scope = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]


class ApiTokenCreate(Input):
    name: TokenName
    scopes: Annotated[list[Scope], msgspec.Meta(min_length=1, max_length=30)]
    expires_at: datetime | None = None


class ApiTokenView(Output):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class ApiTokenCreated(ApiTokenView):
    """The only time the token itself is shown."""

    token: str


class ApiTokenPage(Output):
    """A page of the user's API tokens (`nextCursor` null on the last)."""

    items: list[ApiTokenView]
    next_cursor: str | None = None
