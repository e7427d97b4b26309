"""Typed ids: a stored document's `id` is `PydanticObjectId | None` to Beanie, never `None`
once it was read or inserted. `stored_id` says so once, instead of a `type: ignore` at each
use, and keeps the id's own type (`PydanticObjectId` stays `PydanticObjectId`)."""

from __future__ import annotations

from typing import TypeVar

from bson import ObjectId

IdT = TypeVar("IdT", bound=ObjectId)


def stored_id(value: IdT | None) -> IdT:
    """The id of a document that was read or inserted (`ValueError` if it has none)."""
    if value is None:
        raise ValueError("the document has no id (it was never stored)")
    return value
