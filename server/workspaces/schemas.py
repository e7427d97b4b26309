"""Wire types of workspaces: the shared group shapes, plus ownership transfer."""

from __future__ import annotations

from server.groups.schemas import TransferOwnership

__all__ = ["TransferOwnership"]
