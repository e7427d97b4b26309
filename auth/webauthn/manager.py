"""Passkeys with py_webauthn.

- Challenges live in Redis for 5 minutes and are taken with GETDEL: single use.
- User verification is required at registration and login; a passkey login is MFA.
- The signature counter must grow (py_webauthn refuses a regression); the stored counter is
  updated with a compare-and-set so two concurrent uses of one assertion cannot both pass.
- Logins go through `AuthManager.complete_login`, so lockdown applies to passkeys too.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any

from beanie import PydanticObjectId, SortDirection
from bson import ObjectId
from pymongo.errors import DuplicateKeyError
from redis.asyncio import Redis
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from auth.documents import User
from auth.scopes import require_full_session
from auth.stepup import require_recent_auth
from auth.webauthn.documents import WebAuthnCredential
from auth.webauthn.schemas import (
    PasskeyLoginOptionsRequest,
    PasskeyLoginVerify,
    PasskeyOptionsView,
    PasskeyRegisterVerify,
    PasskeyRename,
    PasskeyView,
)
from server.core.actor import Actor
from server.core.clock import utcnow
from server.core.errors import BadRequest, Conflict, NotFound, Unauthorized
from server.core.wire import validate

if TYPE_CHECKING:
    from auth.manager import AuthManager, AuthResponse, ClientContext

CHALLENGE_TTL = 300
MAX_PASSKEYS_PER_USER = 20
# AttributeError too: py_webauthn walks the client's JSON and a `response` of the wrong shape
# (a string, a list) raised it, a 500 for a known credential id (issue 15, F10).
_BAD_INPUT = (WebAuthnException, ValueError, KeyError, TypeError, IndexError, AttributeError)


def _view(cred: WebAuthnCredential) -> PasskeyView:
    return PasskeyView(
        id=str(cred.id),
        name=cred.name,
        created_at=cred.created_at,
        last_used_at=cred.last_used_at,
        backed_up=cred.backed_up,
        device_type=cred.device_type,
        transports=cred.transports,
    )


def _transports(values: list[str]) -> list[AuthenticatorTransport]:
    known = {t.value: t for t in AuthenticatorTransport}
    return [known[v] for v in values if v in known]


class WebAuthnManager:
    def __init__(
        self,
        *,
        auth: AuthManager,
        redis: Redis,
        rp_id: str,
        rp_name: str,
        origins: tuple[str, ...],
    ) -> None:
        self._auth = auth
        self._redis = redis
        self._rp_id = rp_id
        self._rp_name = rp_name
        self._origins = list(origins)

    async def _store_challenge(self, challenge: bytes, kind: str, user_id: Any) -> str:
        challenge_id = secrets.token_urlsafe(24)
        payload = {
            "challenge": bytes_to_base64url(challenge),
            "kind": kind,
            "user": str(user_id) if user_id else None,
        }
        await self._redis.set(
            f"webauthn:chal:{challenge_id}", json.dumps(payload), ex=CHALLENGE_TTL
        )
        return challenge_id

    async def _take_challenge(self, challenge_id: str, kind: str) -> dict[str, Any]:
        raw = await self._redis.getdel(f"webauthn:chal:{challenge_id}")
        payload = json.loads(raw) if raw else None
        if payload is None or payload.get("kind") != kind:
            raise BadRequest(
                "The passkey challenge expired or was already used. Start again.",
                code="PASSKEY_CHALLENGE_INVALID",
            )
        return payload

    # ------------------------------------------------------------------ registration

    async def register_options(self, actor: Actor) -> PasskeyOptionsView:
        require_recent_auth(actor)
        existing = await WebAuthnCredential.find(
            WebAuthnCredential.user_id == actor.user_id
        ).to_list()
        if len(existing) >= MAX_PASSKEYS_PER_USER:
            raise Conflict("Too many passkeys; remove one first.", code="PASSKEY_LIMIT_REACHED")
        options = generate_registration_options(
            rp_id=self._rp_id,
            rp_name=self._rp_name,
            user_id=ObjectId(str(actor.user_id)).binary,
            user_name=actor.username,
            user_display_name=actor.username,
            timeout=CHALLENGE_TTL * 1000,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED,
            ),
            exclude_credentials=[
                PublicKeyCredentialDescriptor(
                    id=base64url_to_bytes(c.credential_id), transports=_transports(c.transports)
                )
                for c in existing
            ],
        )
        challenge_id = await self._store_challenge(options.challenge, "register", actor.user_id)
        return PasskeyOptionsView(
            challenge_id=challenge_id, public_key=json.loads(options_to_json(options))
        )

    async def register_verify(self, actor: Actor, cmd: PasskeyRegisterVerify) -> PasskeyView:
        cmd = validate(cmd)
        require_recent_auth(actor)
        challenge = await self._take_challenge(cmd.challenge_id, "register")
        if challenge["user"] != str(actor.user_id):
            raise BadRequest(
                "The passkey challenge is not yours.", code="PASSKEY_CHALLENGE_INVALID"
            )
        try:
            verified = verify_registration_response(
                credential=cmd.credential,
                expected_challenge=base64url_to_bytes(challenge["challenge"]),
                expected_rp_id=self._rp_id,
                expected_origin=self._origins,
                require_user_verification=True,
            )
        except _BAD_INPUT as exc:
            raise BadRequest(
                f"The passkey could not be registered: {exc}", code="PASSKEY_INVALID"
            ) from exc
        response = cmd.credential.get("response")
        transports = (response.get("transports") if isinstance(response, dict) else None) or []
        cred = WebAuthnCredential(
            user_id=actor.user_id,
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count,
            transports=[str(t) for t in transports if isinstance(t, str)][:10],
            name=(cmd.name or "Passkey").strip() or "Passkey",
            aaguid=str(verified.aaguid),
            device_type=str(getattr(verified.credential_device_type, "value", "")),
            backed_up=bool(verified.credential_backed_up),
        )
        try:
            await cred.insert()
        except DuplicateKeyError as exc:
            raise Conflict("This passkey is already registered.", code="PASSKEY_EXISTS") from exc
        await self._auth.audit.record(
            "passkey.added", actor=actor, data={"passkeyId": str(cred.id), "name": cred.name}
        )
        return _view(cred)

    # ------------------------------------------------------------------ login

    async def login_options(self, cmd: PasskeyLoginOptionsRequest) -> PasskeyOptionsView:
        cmd = validate(cmd)
        allow: list[PublicKeyCredentialDescriptor] = []
        user_id = None
        if cmd.login:
            user = await self._auth.find_user_by_login(cmd.login)
            if user is not None:
                user_id = user.id
                async for c in WebAuthnCredential.find(WebAuthnCredential.user_id == user.id):
                    allow.append(
                        PublicKeyCredentialDescriptor(
                            id=base64url_to_bytes(c.credential_id),
                            transports=_transports(c.transports),
                        )
                    )
        options = generate_authentication_options(
            rp_id=self._rp_id,
            timeout=CHALLENGE_TTL * 1000,
            allow_credentials=allow,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        challenge_id = await self._store_challenge(options.challenge, "login", user_id)
        return PasskeyOptionsView(
            challenge_id=challenge_id, public_key=json.loads(options_to_json(options))
        )

    async def login_verify(self, cmd: PasskeyLoginVerify, ctx: ClientContext) -> AuthResponse:
        cmd = validate(cmd)
        challenge = await self._take_challenge(cmd.challenge_id, "login")
        raw_id = cmd.credential.get("rawId") or cmd.credential.get("id")
        cred = (
            await WebAuthnCredential.find_one(WebAuthnCredential.credential_id == raw_id)
            if isinstance(raw_id, str) and len(raw_id) < 2000
            else None
        )
        if cred is None or (challenge["user"] and challenge["user"] != str(cred.user_id)):
            await self._failure(None, ctx, "PASSKEY_UNKNOWN")
            raise Unauthorized("This passkey is not registered here.", code="PASSKEY_INVALID")
        response = cmd.credential.get("response")
        if not isinstance(response, dict):
            await self._failure(cred, ctx, "PASSKEY_MALFORMED")
            raise Unauthorized("The passkey answer is malformed.", code="PASSKEY_INVALID")
        handle = response.get("userHandle")
        if handle and handle != bytes_to_base64url(ObjectId(str(cred.user_id)).binary):
            await self._failure(cred, ctx, "USER_HANDLE_MISMATCH")
            raise Unauthorized("The passkey does not match its account.", code="PASSKEY_INVALID")
        try:
            verified = verify_authentication_response(
                credential=cmd.credential,
                expected_challenge=base64url_to_bytes(challenge["challenge"]),
                expected_rp_id=self._rp_id,
                expected_origin=self._origins,
                credential_public_key=base64url_to_bytes(cred.public_key),
                credential_current_sign_count=cred.sign_count,
                require_user_verification=True,
            )
        except _BAD_INPUT as exc:
            message = str(exc)
            code = (
                "PASSKEY_USER_NOT_VERIFIED"
                if "user verification" in message.lower()
                else "PASSKEY_INVALID"
            )
            await self._failure(cred, ctx, code)
            raise Unauthorized(f"The passkey sign-in failed: {message}", code=code) from exc
        result = await WebAuthnCredential.get_pymongo_collection().update_one(
            {"_id": cred.id, "sign_count": cred.sign_count},
            {"$set": {"sign_count": verified.new_sign_count, "last_used_at": utcnow()}},
        )
        if result.matched_count != 1:
            await self._failure(cred, ctx, "SIGN_COUNT_RACE")
            raise Unauthorized("The passkey was used twice at once.", code="PASSKEY_INVALID")
        user = await User.get(PydanticObjectId(cred.user_id))
        if user is None or not user.is_active:
            raise Unauthorized("This passkey is not registered here.", code="PASSKEY_INVALID")
        return await self._auth.complete_login(user, auth_method="passkey", mfa=True, ctx=ctx)

    async def _failure(
        self, cred: WebAuthnCredential | None, ctx: ClientContext, reason: str
    ) -> None:
        await self._auth.audit.record(
            "login.failed",
            user_id=cred.user_id if cred else None,
            ip=ctx.ip,
            user_agent=ctx.user_agent,
            auth_method="passkey",
            data={"reason": reason, "passkeyId": str(cred.id) if cred else None},
        )

    # ------------------------------------------------------------------ management

    async def list(self, actor: Actor) -> list[PasskeyView]:
        require_full_session(actor)  # API tokens never reach account security (agents too)
        creds = (
            await WebAuthnCredential.find(WebAuthnCredential.user_id == actor.user_id)
            .sort([("created_at", SortDirection.ASCENDING)])
            .to_list()
        )
        return [_view(c) for c in creds]

    async def _own(self, actor: Actor, passkey_id: str) -> WebAuthnCredential:
        cred = (
            await WebAuthnCredential.get(PydanticObjectId(passkey_id))
            if ObjectId.is_valid(passkey_id)
            else None
        )
        if cred is None or cred.user_id != actor.user_id:
            raise NotFound("No such passkey.", code="PASSKEY_NOT_FOUND")
        return cred

    async def rename(self, actor: Actor, passkey_id: str, cmd: PasskeyRename) -> PasskeyView:
        cmd = validate(cmd)
        cred = await self._own(actor, passkey_id)
        cred.name = cmd.name.strip() or cred.name
        await WebAuthnCredential.get_pymongo_collection().update_one(
            {"_id": cred.id}, {"$set": {"name": cred.name}}
        )
        await self._auth.audit.record(
            "passkey.renamed", actor=actor, data={"passkeyId": passkey_id, "name": cred.name}
        )
        return _view(cred)

    async def delete(self, actor: Actor, passkey_id: str) -> None:
        require_recent_auth(actor)
        cred = await self._own(actor, passkey_id)
        await WebAuthnCredential.get_pymongo_collection().delete_one({"_id": cred.id})
        await self._auth.audit.record(
            "passkey.removed", actor=actor, data={"passkeyId": passkey_id, "name": cred.name}
        )
