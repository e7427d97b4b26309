"""Who the voice agent acts for: the participant's identity, checked against the signed
dispatch metadata, resolved to an `Actor` on channel `voice` (never more than the user)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from beanie import PydanticObjectId

from agents.voice.tokens import DispatchMetadata
from auth.documents import User
from server.core.actor import Actor
from server.core.ids import stored_id

if TYPE_CHECKING:  # type-only: the composition root builds it and hands it down
    from server.compose.services import Managers


class VoiceIdentityError(PermissionError):
    """The participant is not the user this voice session was minted for."""


async def resolve_actor(
    services: Managers, meta: DispatchMetadata, participant_identity: str
) -> Actor:
    if participant_identity != meta.user_id:
        raise VoiceIdentityError("participant identity does not match the dispatched user")
    if not PydanticObjectId.is_valid(meta.user_id):
        raise VoiceIdentityError("dispatched user id is not valid")
    user = await User.get(PydanticObjectId(meta.user_id))
    if user is None or not user.is_active:
        raise VoiceIdentityError("the user no longer exists or is disabled")
    if meta.auth_session_id and not await services.auth.session_is_live(meta.auth_session_id):
        raise VoiceIdentityError("the login session behind this voice session was revoked")
    return Actor(
        user_id=stored_id(user.id),
        username=user.username,
        roles=frozenset(user.roles),  # current roles, not the ones at mint time
        auth_method="refresh",
        channel="voice",
        session_id=meta.auth_session_id,
        scopes=None if meta.scopes is None else frozenset(meta.scopes),
    )
