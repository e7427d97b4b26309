"""Login throttling that resists both guessing and malicious lockout (issue 15, F5; ASVS
6.1.1, 6.3.1).

Before, the growing delay was keyed on the login string alone: 11 wrong passwords from
anywhere kept the real owner out, and username and e-mail were separate budgets. Now:

- one *account key* for a login: the user's id when the login names a user (username and
  e-mail share it), else the normalised login string;
- the growing delay (`LoginThrottle`) is keyed on (account, client IP), so a stranger's
  failures slow the stranger, not the owner elsewhere;
- a global per-account guess budget (`LOGIN_ACCOUNT_BUDGET` failures per
  `LOGIN_ACCOUNT_BUDGET_WINDOW_SECONDS`, from every IP together) stops a distributed guess;
  once spent, password logins are refused (429 `LOGIN_ACCOUNT_THROTTLED`) except from a
  *known device* (a client IP + user-agent that logged in to this account successfully
  within 30 days). Passkey logins never use a password and are not throttled by it.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from auth.ratelimit import LoginThrottle
from server.core.errors import RateLimited

KNOWN_DEVICE_SECONDS = 30 * 24 * 3600


def device_hash(ip: str | None, user_agent: str | None) -> str:
    """What identifies a device here: the client IP and user agent, hashed."""
    raw = f"{ip or '-'}\n{(user_agent or '')[:300]}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


class AccountThrottle:
    """The per-(account, IP) growing delay plus the per-account guess budget."""

    def __init__(
        self, redis: Redis, delay: LoginThrottle, *, budget: int, budget_window: int
    ) -> None:
        self._redis = redis
        self._delay = delay
        self._budget = budget
        self._window = budget_window

    @staticmethod
    def subject(account: str, ip: str | None) -> str:
        return f"{account}|{ip or '-'}"

    def _budget_key(self, account: str) -> str:
        return f"auth:acctfail:{account}"

    def _known_key(self, account: str, device: str) -> str:
        return f"auth:known:{account}:{device}"

    async def check(self, account: str, ip: str | None, device: str) -> None:
        """429 while this (account, IP) waits, or the account's budget is spent for an
        unknown device."""
        await self._delay.check(self.subject(account, ip))
        if self._budget <= 0:
            return
        used = await self._redis.get(self._budget_key(account))
        if used is not None and int(used) >= self._budget:
            if await self._redis.exists(self._known_key(account, device)):
                return
            ttl = await self._redis.ttl(self._budget_key(account))
            raise RateLimited(
                "Too many failed sign-ins for this account. Use a passkey, a device you "
                "signed in from before, or try again later.",
                retry_after=max(1, int(ttl)),
                code="LOGIN_ACCOUNT_THROTTLED",
            )

    async def failure(self, account: str, ip: str | None) -> None:
        await self._delay.failure(self.subject(account, ip))
        key = self._budget_key(account)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self._window, nx=True)
            await pipe.execute()

    async def success(self, account: str, ip: str | None, device: str) -> None:
        """Reset this (account, IP)'s delay and remember the device; the account budget is
        left to expire (an attacker's guesses are not forgiven by the owner's login)."""
        await self._delay.success(self.subject(account, ip))
        await self._redis.set(self._known_key(account, device), "1", ex=KNOWN_DEVICE_SECONDS)
