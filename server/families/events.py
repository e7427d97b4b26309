"""Every event a family publishes, with its payload Struct (for the AsyncAPI document)."""

from __future__ import annotations

from server.core.wire import Output
from server.groups.events import MemberChanged, VoteChanged, event_types


class RelationshipChanged(Output):
    group_id: str
    user_id: str
    related_user_id: str
    relationship: str
    inverse: str


EVENT_TYPES: dict[str, type] = {
    **event_types("family"),
    "family.relationship_changed": RelationshipChanged,
    "family.backup_admin_changed": MemberChanged,
    "family.recovery_opened": VoteChanged,
    "family.recovery_voted": VoteChanged,
    "family.recovery_approved": VoteChanged,
    "family.recovery_rejected": VoteChanged,
    "family.recovery_expired": VoteChanged,
}
