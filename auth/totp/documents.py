"""A user's TOTP enrolment: the Fernet-encrypted secret, the last used step, backup codes."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from server.core.clock import utcnow


class TotpCredential(Document):
    user_id: PydanticObjectId
    secret_enc: str
    confirmed: bool = False
    # The highest time-step ever accepted: a code is accepted only for a later step.
    last_step: int = -1
    backup_hashes: list[str] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    confirmed_at: datetime | None = None

    class Settings:
        name = "totp_credentials"
        indexes = [IndexModel([("user_id", ASCENDING)], unique=True, name="user_unique")]
