"""Wire types of families beyond the shared group shapes (camelCase JSON)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from server.core.wire import Input, ObjectIdStr, Output
from server.groups.schemas import RelationshipName

# What one person is to another, and its other direction.
RELATIONS: dict[str, str] = {
    "parent": "child",
    "child": "parent",
    "sibling": "sibling",
    "spouse": "spouse",
    "partner": "partner",
    "grandparent": "grandchild",
    "grandchild": "grandparent",
    "aunt_uncle": "niece_nephew",
    "niece_nephew": "aunt_uncle",
    "cousin": "cousin",
    "guardian": "ward",
    "ward": "guardian",
    "other": "other",
}


class RelationshipSet(Input):
    """`userId` (in the path) is `toUserId`'s `relationship` (toUserId defaults to you)."""

    relationship: RelationshipName
    to_user_id: ObjectIdStr | None = None


class RelationshipView(Output):
    """`userId` is `relatedUserId`'s `relationship`."""

    user_id: str
    related_user_id: str
    relationship: str


class RecoveryOpen(Input):
    reason: Annotated[str, msgspec.Meta(min_length=5, max_length=500)] = "No active admin"


class RelationshipPage(Output):
    """A page of family relationships (`nextCursor` null on the last)."""

    items: list[RelationshipView]
    next_cursor: str | None = None
