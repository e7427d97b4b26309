"""Notifications stored per recipient, and each user's muted types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from server.core.clock import utcnow


class Notification(Document):
    user_id: PydanticObjectId
    type: str
    title: str
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
    read_at: datetime | None = None

    class Settings:
        name = "notifications"
        indexes = [
            IndexModel([("user_id", ASCENDING), ("_id", DESCENDING)], name="user_newest"),
            IndexModel([("user_id", ASCENDING), ("read_at", ASCENDING)], name="user_unread"),
        ]


class UnreadCounter(Document):
    """A user's number of unread notifications (`id` = the user id), changed only in the
    transactions that store or read notifications (server/notifications/counters.py), so
    `notification.created` carries it without counting the user's notifications."""

    unread: int = 0

    class Settings:
        name = "notification_counters"


class NotificationPreference(Document):
    user_id: PydanticObjectId
    muted_types: list[str] = Field(default_factory=list)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "notification_preferences"
        indexes = [
            IndexModel([("user_id", ASCENDING)], unique=True, name="user_unique"),
            IndexModel([("muted_types", ASCENDING)], name="muted_types"),
        ]
