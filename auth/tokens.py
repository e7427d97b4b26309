"""Access tokens (HS256 JWT carrying the session id) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache

import jwt

from server.core.actor import AuthMethod
from server.core.errors import Unauthorized

_ALGORITHM = "HS256"


_AUTH_METHODS: dict[object, AuthMethod] = {
    m: m for m in ("password", "refresh", "api_token", "passkey", "system")
}


def auth_method_of(value: object) -> AuthMethod:
    """A token's `amr` as an `AuthMethod` (an unknown one reads as "password", the default
    it had before it was checked: never "api_token", so never less than a login session)."""
    return _AUTH_METHODS.get(value, "password")


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    session_id: str
    username: str
    roles: tuple[str, ...]
    auth_method: AuthMethod
    mfa: bool
    auth_time: float
    expires_at: float


def issue_access_token(
    *,
    secret: str,
    issuer: str,
    ttl: int,
    user_id: str,
    session_id: str,
    username: str,
    roles: list[str],
    auth_method: str,
    mfa: bool,
    auth_time: float,
) -> str:
    now = int(time.time())
    payload = {
        "iss": issuer,
        "sub": user_id,
        "sid": session_id,
        "usr": username,
        "roles": roles,
        "amr": auth_method,
        "mfa": mfa,
        "auth_time": int(auth_time),
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "typ": "access",
    }
    return jwt.encode(payload, secret, algorithm=_ALGORITHM)


def decode_access_token(token: str, *, secret: str, issuer: str) -> AccessClaims:
    """Verified claims of an access token (401 `TOKEN_EXPIRED` / `INVALID_TOKEN` otherwise).

    A client sends the same token with every request for its 15 minutes, so successful
    verifications are remembered per token string (failures never are); expiry is checked
    again on every use."""
    claims = _verified_claims(token, secret, issuer)
    if claims.expires_at <= time.time():
        raise Unauthorized("The access token has expired.", code="TOKEN_EXPIRED")
    return claims


@lru_cache(maxsize=8192)
def _verified_claims(token: str, secret: str, issuer: str) -> AccessClaims:
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "sid"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The access token has expired.", code="TOKEN_EXPIRED") from exc
    except jwt.PyJWTError as exc:
        raise Unauthorized("The access token is not valid.", code="INVALID_TOKEN") from exc
    if payload.get("typ") != "access":
        raise Unauthorized("The access token is not valid.", code="INVALID_TOKEN")
    return AccessClaims(
        user_id=str(payload["sub"]),
        session_id=str(payload["sid"]),
        username=str(payload.get("usr", "")),
        roles=tuple(payload.get("roles") or ()),
        auth_method=auth_method_of(payload.get("amr", "password")),
        mfa=bool(payload.get("mfa", False)),
        auth_time=float(payload.get("auth_time", payload["iat"])),
        expires_at=float(payload["exp"]),
    )


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_refresh_secret() -> str:
    return secrets.token_urlsafe(32)


def compose_refresh_token(session_id: str, secret: str) -> str:
    return f"{session_id}.{secret}"


def split_refresh_token(token: str) -> tuple[str, str]:
    session_id, sep, secret = token.partition(".")
    if not sep or len(session_id) != 24 or not secret or len(token) > 200:
        raise Unauthorized("The refresh token is not valid.", code="INVALID_REFRESH_TOKEN")
    return session_id, secret


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
