"""Where a request comes from, and the ports `AuthManager` calls back (lockdown, new-device
alerts, security e-mails): implemented by the parts of auth/ the composition root attaches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from auth.documents import AuthSession, User


@dataclass(frozen=True, slots=True)
class ClientContext:
    """Where a request comes from (resolved by the route from headers and trusted proxies)."""

    ip: str | None = None
    user_agent: str | None = None


class LoginGuard(Protocol):
    """Refuses a login that passed every factor (lockdown); raises a `DomainError`."""

    async def check_login(self, user: User, auth_method: str, ctx: ClientContext) -> None: ...


class SessionListener(Protocol):
    """Told about every new session (new-device alerts)."""

    async def on_session_started(
        self, user: User, session: AuthSession, ctx: ClientContext
    ) -> None: ...


class SecurityNotifier(Protocol):
    """Tells the user by e-mail about changes to how they sign in."""

    async def password_changed(self, user: User, how: str, ctx: ClientContext) -> None: ...


class EmailVerifier(Protocol):
    """Sends a new account its e-mail verification link."""

    async def send_verification(self, user: User) -> None: ...
