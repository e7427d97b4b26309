"""Workspaces (teams). Members, invitations and the wallet are the shared group documents."""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel

from server.groups.documents import GroupDocument


class Workspace(GroupDocument):
    class Settings:
        name = "workspaces"
        indexes = [IndexModel([("deleted_at", ASCENDING)], name="deleted_at")]
