"""A registered passkey: its id, public key and signature counter."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from server.core.clock import utcnow


class WebAuthnCredential(Document):
    user_id: PydanticObjectId
    credential_id: str  # base64url of the raw credential id
    public_key: str  # base64url of the COSE public key
    sign_count: int = 0
    transports: list[str] = Field(default_factory=list)
    name: str = "Passkey"
    aaguid: str = ""
    device_type: str = ""
    backed_up: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None

    class Settings:
        name = "webauthn_credentials"
        indexes = [
            IndexModel([("credential_id", ASCENDING)], unique=True, name="credential_unique"),
            IndexModel([("user_id", ASCENDING)], name="user"),
        ]
