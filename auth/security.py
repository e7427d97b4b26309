"""Builds the security parts of auth/ around an `AuthManager` (called by the composition root,
which turns settings into a `SecurityConfig`; auth/ never reads settings itself)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from redis.asyncio import Redis

from auth.account.manager import AccountManager
from auth.api_tokens.manager import ApiTokenManager
from auth.email.outbox import EmailConfig, Outbox
from auth.email.senders import EmailSender
from auth.lockdown.manager import LockdownManager
from auth.manager import AuthManager
from auth.onetime import OneTimeTokens
from auth.totp.manager import TotpManager
from auth.webauthn.manager import WebAuthnManager


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    email: EmailConfig
    totp_keys: tuple[str, ...] = ()
    totp_issuer: str = "Second Brain"
    api_token_touch_seconds: int = 60
    webauthn_rp_id: str = "localhost"
    webauthn_rp_name: str = "Second Brain"
    webauthn_origins: tuple[str, ...] = field(default_factory=tuple)


def derived_fernet_key(secret_key: str, purpose: str) -> str:
    """A Fernet key derived from the app secret, used when no explicit key is configured."""
    digest = hashlib.sha256(f"{purpose}:{secret_key}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class SecurityParts:
    """The security collaborators of auth/, each handed to its own controller."""

    outbox: Outbox
    one_time_tokens: OneTimeTokens
    api_tokens: ApiTokenManager
    totp: TotpManager
    webauthn: WebAuthnManager
    account: AccountManager
    lockdown: LockdownManager


def build_security(
    auth: AuthManager, redis: Redis, config: SecurityConfig, sender: EmailSender
) -> SecurityParts:
    """Build the security parts around `auth` and wire the ones it calls back (login guards,
    session listeners, TOTP at login, API tokens at authentication)."""
    keys = config.totp_keys or (derived_fernet_key(auth.config.secret_key, "totp"),)
    fernet = MultiFernet([Fernet(k.encode()) for k in keys])
    outbox = Outbox(sender, config.email)
    tokens = OneTimeTokens()
    account = AccountManager(auth, outbox, tokens)
    parts = SecurityParts(
        outbox=outbox,
        one_time_tokens=tokens,
        api_tokens=ApiTokenManager(
            auth.audit, touch_interval_seconds=config.api_token_touch_seconds
        ),
        totp=TotpManager(
            redis=redis,
            fernet=fernet,
            audit=auth.audit,
            passwords=auth.passwords,
            issuer=config.totp_issuer,
            max_failures=auth.config.login_max_failures,
            failure_window=auth.config.login_failure_window,
            max_delay=auth.config.login_max_delay,
        ),
        webauthn=WebAuthnManager(
            auth=auth,
            redis=redis,
            rp_id=config.webauthn_rp_id,
            rp_name=config.webauthn_rp_name,
            origins=config.webauthn_origins,
        ),
        account=account,
        lockdown=LockdownManager(auth=auth, redis=redis, outbox=outbox, tokens=tokens),
    )
    auth.attach(
        api_tokens=parts.api_tokens,
        totp=parts.totp,
        verifier=account,
        login_guards=[parts.lockdown],
        session_listeners=[account],
        notifier=account,
    )
    return parts


def security_documents() -> list[Any]:
    """Every Beanie document of the security parts (for the composition root)."""
    from auth.account.documents import KnownDevice
    from auth.api_tokens.documents import ApiToken
    from auth.audit.documents import AuditRecord
    from auth.email.documents import OutboxEmail
    from auth.lockdown.documents import LockdownState
    from auth.onetime import OneTimeToken
    from auth.totp.documents import TotpCredential
    from auth.webauthn.documents import WebAuthnCredential

    return [
        AuditRecord,
        ApiToken,
        TotpCredential,
        OutboxEmail,
        OneTimeToken,
        KnownDevice,
        WebAuthnCredential,
        LockdownState,
    ]


def security_controllers() -> list[Any]:
    """Every route controller of the security parts (for the composition root)."""
    from auth.account.routes import AccountController
    from auth.api_tokens.routes import ApiTokenController
    from auth.audit.routes import AuditController
    from auth.lockdown.routes import LockdownController
    from auth.pages import EmailLinkPages
    from auth.totp.routes import TotpController
    from auth.webauthn.routes import WebAuthnController

    return [
        AuditController,
        ApiTokenController,
        TotpController,
        AccountController,
        WebAuthnController,
        LockdownController,
        EmailLinkPages,
    ]
