"""In-process, per-account locks in front of the ledger's transactions.

Two transactions that touch the same account conflict in the database: one aborts and is
retried after a back-off, wasting its work. Within one process, queueing them on a lock per
account instead turns that waste into a short wait. Correctness never depends on these
locks (other processes, and composed transactions, still rely on the database's
conditional writes and conflict detection); they only cut conflicts.
Locks are taken in sorted order, so two movements never wait on each other in a cycle.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._users: dict[Hashable, int] = {}

    @asynccontextmanager
    async def hold(self, *keys: Hashable) -> AsyncIterator[None]:
        ordered = sorted(set(keys), key=str)
        held: list[asyncio.Lock] = []
        for key in ordered:
            self._users[key] = self._users.get(key, 0) + 1
        try:
            for key in ordered:
                lock = self._locks.setdefault(key, asyncio.Lock())
                await lock.acquire()
                held.append(lock)
            yield
        finally:
            for lock in reversed(held):
                lock.release()
            for key in ordered:
                left = self._users[key] - 1
                if left:
                    self._users[key] = left
                else:
                    del self._users[key]
                    self._locks.pop(key, None)

    def __len__(self) -> int:
        return len(self._locks)
