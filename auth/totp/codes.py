"""TOTP arithmetic (RFC 6238 over RFC 4226) and backup codes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time

STEP_SECONDS = 30
DIGITS = 6
BACKUP_CODE_COUNT = 10


def new_secret() -> str:
    """160 random bits, base32 (what authenticator apps expect)."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP_SECONDS)


def code_for_step(secret_b32: str, step: int) -> str:
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def matching_step(secret_b32: str, code: str, now: float | None = None, window: int = 1) -> int:
    """The time-step (within ±`window` of now) whose code equals `code`, or -1."""
    here = current_step(now)
    found = -1
    for step in range(here - window, here + window + 1):
        # Compare every candidate (constant work whichever one matches).
        if hmac.compare_digest(code_for_step(secret_b32, step), code):
            found = step
    return found


def new_backup_codes(count: int = BACKUP_CODE_COUNT) -> list[str]:
    """120 random bits each (enough entropy for a plain SHA-256, ASVS 6.5.2)."""
    codes = []
    for _ in range(count):
        raw = base64.b32encode(secrets.token_bytes(15)).decode().lower()
        codes.append("-".join(raw[i : i + 4] for i in range(0, len(raw), 4)))
    return codes


def normalise_backup_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def backup_code_hash(code: str) -> str:
    return hashlib.sha256(normalise_backup_code(code).encode()).hexdigest()
