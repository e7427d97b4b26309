"""Events of the notifications context, published to `user:{id}`."""

from __future__ import annotations

from server.core.wire import Output
from server.notifications.schemas import NotificationView


class NotificationCreated(Output):
    notification: NotificationView
    unread_count: int


class NotificationsRead(Output):
    ids: list[str]
    all: bool
    unread_count: int


class NotificationPreferencesChanged(Output):
    muted_types: list[str]


EVENT_TYPES: dict[str, type] = {
    "notification.created": NotificationCreated,
    "notification.read": NotificationsRead,
    "notification.preferences_changed": NotificationPreferencesChanged,
}
