"""After-commit hooks of the ledger: how upper layers learn of movements and freezes.

The wallet (layer 3) may not import notifications or groups (layer 4), so they register
async callables here from the composition root (like `AuthManager`'s user-created hooks):

- a *moved* hook gets the committed `Moved` (transfer plus both accounts), once per new
  transfer, never for a replayed idempotency key;
- a *frozen* hook gets the `Account` right after a freeze or unfreeze was committed.

Hooks run after the commit and after the `wallet.*` events, in a post-commit task of
their own (`server/core/background.py`): the movement answers without waiting for them
(the transfer-received notification is such a hook). `drain()` waits for them (shutdown,
tests). A hook that raises never undoes or fails the money movement: the error is logged
and counted (`failures`, and the Prometheus counter
`second_brain_wallet_hook_failures_total{hook=...}`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Counter

from server.core.background import Background
from server.wallet.documents import Account
from server.wallet.movement import Moved

log = logging.getLogger("server.wallet.hooks")

MovedHook = Callable[[Moved], Awaitable[None]]
FrozenHook = Callable[[Account], Awaitable[None]]

HOOK_FAILURES = Counter(
    "second_brain_wallet_hook_failures_total",
    "Ledger after-commit hooks that raised (the movement itself stood)",
    ["hook"],
)


class LedgerHooks:
    """The registered hooks and how many of their calls failed."""

    def __init__(self) -> None:
        self.moved: list[MovedHook] = []
        self.frozen: list[FrozenHook] = []
        self.failures = 0
        self.background = Background("wallet-hooks")

    def after_moved(self, moved: Moved) -> None:
        """Start the moved hooks for a committed movement without waiting for them."""
        if self.moved and not moved.replayed:
            self.background.spawn(lambda: self.run_moved(moved))

    def after_frozen(self, account: Account) -> None:
        """Start the frozen hooks for a committed freeze or unfreeze without waiting."""
        if self.frozen:
            self.background.spawn(lambda: self.run_frozen(account))

    async def drain(self) -> None:
        """Wait for every hook started so far (shutdown, and tests that check their effect)."""
        await self.background.drain()

    async def run_moved(self, moved: Moved) -> None:
        if moved.replayed:  # an idempotent replay moved nothing new
            return
        t = moved.transfer
        for hook in self.moved:
            await self._call(hook, moved, "moved", transferId=str(t.id), kind=t.kind)

    async def run_frozen(self, account: Account) -> None:
        for hook in self.frozen:
            await self._call(hook, account, "frozen", accountId=str(account.id))

    async def _call(
        self, hook: Callable[[Any], Awaitable[None]], arg: Any, name: str, **extra: Any
    ) -> None:
        try:
            await hook(arg)
        except Exception:  # a hook never undoes or fails a committed movement
            self.failures += 1
            HOOK_FAILURES.labels(name).inc()
            log.exception(
                "wallet hook failed",
                extra={"hook": getattr(hook, "__qualname__", repr(hook)), **extra},
            )
