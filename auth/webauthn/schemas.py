"""Wire types for passkeys. `publicKey` is the WebAuthn JSON options; `credential` is the
browser's `PublicKeyCredential` serialised as JSON (base64url fields)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from server.core.wire import Input, Output

ChallengeIdIn = Annotated[str, msgspec.Meta(min_length=10, max_length=100)]
PasskeyNameIn = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class PasskeyOptionsView(Output):
    challenge_id: str
    public_key: dict[str, Any]


class PasskeyRegisterVerify(Input):
    challenge_id: ChallengeIdIn
    credential: dict[str, Any]
    name: PasskeyNameIn | None = None


class PasskeyLoginOptionsRequest(Input):
    """Empty for a usernameless (discoverable) login, or with the username / e-mail."""

    login: Annotated[str, msgspec.Meta(min_length=1, max_length=254)] | None = None


class PasskeyLoginVerify(Input):
    challenge_id: ChallengeIdIn
    credential: dict[str, Any]


class PasskeyRename(Input):
    name: PasskeyNameIn


class PasskeyView(Output):
    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    backed_up: bool
    device_type: str
    transports: list[str]


class PasskeyPage(Output):
    """A page of the user's passkeys (`nextCursor` null on the last)."""

    items: list[PasskeyView]
    next_cursor: str | None = None
