"""Password policy and argon2id hashing (off the event loop)."""

from __future__ import annotations

import asyncio
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from server.core.errors import Unprocessable

# Context-specific words (ASVS 6.1.2 / 6.2.11): the product's own names, compared without
# spaces, dashes or underscores. Documented in docs/security.md.
CONTEXT_WORDS = ("secondbrain", "2ndbrain")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """Our own list plus zxcvbn's 30,000 most common passwords (ASVS 6.2.4)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    path = Path(__file__).with_name("common_passwords.txt")
    own = {line.strip().lower() for line in path.read_text().splitlines() if line.strip()}
    return frozenset(own | {p.lower() for p in FREQUENCY_LISTS["passwords"]})


def check_password_policy(password: str, *, min_length: int, username: str | None = None) -> None:
    problems: list[dict[str, str]] = []
    if len(password) < min_length:
        problems.append(
            {"field": "password", "message": f"must be at least {min_length} characters"}
        )
    if len(password) > 256:
        problems.append({"field": "password", "message": "must be at most 256 characters"})
    lowered = password.lower()
    if lowered in common_passwords():
        problems.append({"field": "password", "message": "is too common"})
    if username and username.lower() in lowered:
        problems.append({"field": "password", "message": "must not contain the username"})
    squashed = "".join(ch for ch in lowered if ch.isalnum())
    if any(word in squashed for word in CONTEXT_WORDS):
        problems.append({"field": "password", "message": "must not contain the service name"})
    if problems:
        raise Unprocessable("The password does not meet the policy.", details=problems)


class Passwords:
    """argon2id hashing in a worker thread; cost parameters come from settings."""

    def __init__(
        self, *, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        # Verified against when the account does not exist, so timing does not reveal it.
        self._dummy_hash = self._hasher.hash("dummy password for timing equalisation")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True when `password` matches; always spends one argon2 verification."""

        def _verify() -> bool:
            try:
                matched = self._hasher.verify(password_hash or self._dummy_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False
            return matched and bool(password_hash)

        return await asyncio.to_thread(_verify)

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
