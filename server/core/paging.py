"""One paging shape for every list endpoint (issue 16): `{"items": [...], "nextCursor": ...}`.

Each list has its own concrete wrapper Struct (`SpacePage`, `MemberPage`, ...): OpenAPI
generators need a named schema per list, so no generic wrapper. Lists a manager already
pages in the database keep their own cursors; the lists a manager returns whole (bounded by
other rules: members per group, tokens per user) are cut here with `page_slice`, the
cursor being the key of the last item of the previous page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from litestar.params import Parameter

from server.core.errors import BadRequest

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Limit = Annotated[
    int, Parameter(ge=1, le=MAX_LIMIT, description="Items per page (default 50, at most 200).")
]
Cursor = Annotated[
    str | None,
    Parameter(max_length=200, description="`nextCursor` of the previous page; omit for the first."),
]


def by_id(item: Any) -> str:
    """The usual cursor key: the item's `id`."""
    return str(item.id)


def page_slice(
    items: Sequence[T],
    *,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    key: Callable[[T], str] = by_id,
) -> tuple[list[T], str | None]:
    """(the page after `cursor`, the next cursor or None); 400 `INVALID_CURSOR` for a key
    that is not in the list (any more)."""
    start = 0
    if cursor:
        keys = [key(item) for item in items]
        if cursor not in keys:
            raise BadRequest(
                "The cursor is not valid.", code="INVALID_CURSOR", details=[{"field": "cursor"}]
            )
        start = keys.index(cursor) + 1
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    return page, (key(page[-1]) if more and page else None)
