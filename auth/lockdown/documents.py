"""A user's lockdown settings: on/off, trusted IP networks and trusted devices."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from server.core.clock import utcnow


class TrustedDevice(BaseModel):
    id: str
    ua_hash: str
    label: str
    added_at: datetime = Field(default_factory=utcnow)


class LockdownState(Document):
    user_id: PydanticObjectId
    enabled: bool = False
    trusted_ips: list[str] = Field(default_factory=list)
    trusted_devices: list[TrustedDevice] = Field(default_factory=list)
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "lockdown"
        indexes = [IndexModel([("user_id", ASCENDING)], unique=True, name="user_unique")]
