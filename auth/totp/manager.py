"""Enrol, use and remove TOTP 2FA.

- Secrets are Fernet-encrypted at rest (`MultiFernet`: the first key encrypts, all decrypt;
  `rotate_keys` re-encrypts everything with the first).
- A code is accepted for a time-step only once per user: the step is stored with a
  compare-and-set (`last_step < step`), so a replayed or concurrent second use fails.
- Backup codes are single use (`$pull` of the hash) and stored as SHA-256.
- Wrong codes count towards a growing per-account delay, like wrong passwords.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING
from urllib.parse import quote

import segno
from bson import ObjectId
from cryptography.fernet import MultiFernet
from pymongo.errors import DuplicateKeyError
from redis.asyncio import Redis

from auth.audit.manager import AuditLog
from auth.documents import User
from auth.ratelimit import LoginThrottle
from auth.scopes import require_full_session
from auth.stepup import require_recent_auth
from auth.totp import codes
from auth.totp.documents import TotpCredential
from auth.totp.schemas import (
    BackupCodesRequest,
    BackupCodesView,
    TotpConfirmRequest,
    TotpDisableRequest,
    TotpSetupView,
    TotpStatusView,
)
from server.core.actor import Actor
from server.core.clock import utcnow
from server.core.errors import BadRequest, Conflict, Unauthorized, Unprocessable

if TYPE_CHECKING:
    from auth.passwords import Passwords


class TotpManager:
    def __init__(
        self,
        *,
        redis: Redis,
        fernet: MultiFernet,
        audit: AuditLog,
        passwords: Passwords,
        issuer: str,
        max_failures: int = 5,
        failure_window: int = 15 * 60,
        max_delay: int = 15 * 60,
    ) -> None:
        self._fernet = fernet
        self._audit = audit
        self._passwords = passwords
        self._issuer = issuer
        self._throttle = LoginThrottle(
            redis, max_failures=max_failures, window=failure_window, max_delay=max_delay
        )

    # ------------------------------------------------------------------ enrolment

    async def status(self, actor: Actor) -> TotpStatusView:
        require_full_session(actor)  # API tokens never reach account security (agents too)
        cred = await TotpCredential.find_one(TotpCredential.user_id == actor.user_id)
        enabled = bool(cred and cred.confirmed)
        return TotpStatusView(
            enabled=enabled, backup_codes_left=len(cred.backup_hashes) if cred and enabled else 0
        )

    async def setup(self, actor: Actor) -> TotpSetupView:
        require_recent_auth(actor)
        existing = await TotpCredential.find_one(TotpCredential.user_id == actor.user_id)
        if existing is not None and existing.confirmed:
            raise Conflict("Two-factor authentication is already on.", code="TOTP_ALREADY_ENABLED")
        secret = codes.new_secret()
        encrypted = self._fernet.encrypt(secret.encode()).decode()
        collection = TotpCredential.get_pymongo_collection()
        try:
            await collection.update_one(
                {"user_id": actor.user_id, "confirmed": False},
                {
                    "$set": {"secret_enc": encrypted, "last_step": -1, "created_at": utcnow()},
                    "$setOnInsert": {"backup_hashes": [], "confirmed_at": None},
                },
                upsert=True,
            )
        except DuplicateKeyError as exc:  # confirmed meanwhile by a concurrent request
            raise Conflict(
                "Two-factor authentication is already on.", code="TOTP_ALREADY_ENABLED"
            ) from exc
        uri = (
            f"otpauth://totp/{quote(self._issuer)}:{quote(actor.username)}"
            f"?secret={secret}&issuer={quote(self._issuer)}&algorithm=SHA1&digits=6&period=30"
        )
        buffer = io.BytesIO()
        segno.make(uri, error="m").save(buffer, kind="svg", scale=4, xmldecl=False)
        return TotpSetupView(secret=secret, otpauth_uri=uri, qr_svg=buffer.getvalue().decode())

    async def confirm(self, actor: Actor, cmd: TotpConfirmRequest) -> BackupCodesView:
        require_recent_auth(actor)
        cred = await TotpCredential.find_one(TotpCredential.user_id == actor.user_id)
        if cred is None:
            raise BadRequest("Start the setup first.", code="TOTP_NOT_SET_UP")
        if cred.confirmed:
            raise Conflict("Two-factor authentication is already on.", code="TOTP_ALREADY_ENABLED")
        await self._use_code(cred, cmd.code)
        backup = codes.new_backup_codes()
        result = await TotpCredential.get_pymongo_collection().update_one(
            {"_id": cred.id, "confirmed": False},
            {
                "$set": {
                    "confirmed": True,
                    "confirmed_at": utcnow(),
                    "backup_hashes": [codes.backup_code_hash(c) for c in backup],
                }
            },
        )
        if result.modified_count != 1:
            raise Conflict("Two-factor authentication is already on.", code="TOTP_ALREADY_ENABLED")
        await self._audit.record("totp.enabled", actor=actor)
        return BackupCodesView(backup_codes=backup)

    async def disable(self, actor: Actor, cmd: TotpDisableRequest) -> None:
        require_recent_auth(actor)
        if (cmd.code is None) == (cmd.password is None):
            raise Unprocessable(
                "Give either a current code or the password.",
                details=[{"field": "code", "message": "exactly one of code, password"}],
            )
        cred = await self._confirmed(actor.user_id)
        if cmd.code is not None:
            await self._use_code(cred, cmd.code)
        else:
            user = await User.get(actor.user_id)
            if user is None or not await self._passwords.verify(
                user.password_hash, cmd.password or ""
            ):
                await self._throttle.failure(f"totp:{actor.user_id}")
                raise BadRequest("The password is incorrect.", code="WRONG_PASSWORD")
        await TotpCredential.get_pymongo_collection().delete_one({"_id": cred.id})
        await self._audit.record("totp.disabled", actor=actor)

    async def regenerate_backup_codes(
        self, actor: Actor, cmd: BackupCodesRequest
    ) -> BackupCodesView:
        require_recent_auth(actor)
        cred = await self._confirmed(actor.user_id)
        await self._use_code(cred, cmd.code)
        backup = codes.new_backup_codes()
        await TotpCredential.get_pymongo_collection().update_one(
            {"_id": cred.id},
            {"$set": {"backup_hashes": [codes.backup_code_hash(c) for c in backup]}},
        )
        await self._audit.record("totp.backup_codes_regenerated", actor=actor)
        return BackupCodesView(backup_codes=backup)

    async def _confirmed(self, user_id: ObjectId) -> TotpCredential:
        cred = await TotpCredential.find_one(
            TotpCredential.user_id == user_id,
            TotpCredential.confirmed == True,  # noqa: E712
        )
        if cred is None:
            raise BadRequest("Two-factor authentication is off.", code="TOTP_NOT_ENABLED")
        return cred

    # ------------------------------------------------------------------ verification

    async def is_enabled(self, user_id: ObjectId) -> bool:
        count = await TotpCredential.get_pymongo_collection().count_documents(
            {"user_id": user_id, "confirmed": True}, limit=1
        )
        return count > 0

    async def verify_login(
        self, user: User, totp_code: str | None, backup_code: str | None
    ) -> bool:
        """Whether a second factor was used (raises 401 when one is due and missing/wrong)."""
        cred = await TotpCredential.find_one(
            TotpCredential.user_id == user.id,
            TotpCredential.confirmed == True,  # noqa: E712
        )
        if cred is None:
            return False
        if totp_code is None and backup_code is None:
            raise Unauthorized("Enter the code from your authenticator app.", code="TOTP_REQUIRED")
        if totp_code is not None:
            await self._use_code(cred, totp_code)
        else:
            await self._use_backup_code(cred, backup_code or "")
        return True

    async def _use_code(self, cred: TotpCredential, code: str) -> None:
        subject = f"totp:{cred.user_id}"
        await self._throttle.check(subject)
        secret = self._fernet.decrypt(cred.secret_enc.encode()).decode()
        step = codes.matching_step(secret, code)
        if step < 0:
            await self._throttle.failure(subject)
            raise Unauthorized("The code is not valid.", code="INVALID_TOTP")
        result = await TotpCredential.get_pymongo_collection().update_one(
            {"_id": cred.id, "last_step": {"$lt": step}}, {"$set": {"last_step": step}}
        )
        if result.modified_count != 1:
            await self._throttle.failure(subject)
            raise Unauthorized(
                "This code was already used. Wait for the next one.", code="TOTP_REPLAYED"
            )
        await self._throttle.success(subject)

    async def _use_backup_code(self, cred: TotpCredential, code: str) -> None:
        subject = f"totp:{cred.user_id}"
        await self._throttle.check(subject)
        digest = codes.backup_code_hash(code)
        result = await TotpCredential.get_pymongo_collection().update_one(
            {"_id": cred.id, "backup_hashes": digest}, {"$pull": {"backup_hashes": digest}}
        )
        if result.modified_count != 1:
            await self._throttle.failure(subject)
            raise Unauthorized("The backup code is not valid.", code="INVALID_BACKUP_CODE")
        await self._throttle.success(subject)
        await self._audit.record(
            "totp.backup_code_used",
            user_id=cred.user_id,
            data={"left": len(cred.backup_hashes) - 1},
        )

    async def rotate_keys(self) -> int:
        """Re-encrypt every secret with the first key (after adding a new key in front)."""
        collection = TotpCredential.get_pymongo_collection()
        count = 0
        async for doc in collection.find({}, {"secret_enc": 1}):
            rotated = self._fernet.rotate(doc["secret_enc"].encode()).decode()
            await collection.update_one({"_id": doc["_id"]}, {"$set": {"secret_enc": rotated}})
            count += 1
        return count
