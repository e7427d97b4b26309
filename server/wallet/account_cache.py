"""The accounts this process last wrote, as a hint that spares a transfer its read.

A movement used to read both accounts inside its transaction before its one `bulk_write`.
The ledger's per-account locks (locks.py) queue this process's movements on an account, so
the balance this process committed last is almost always still the balance in the
database: the writer uses it instead of reading. It is only a hint. Every balance update
stays conditional on the exact balance it assumes (and on the account being open and not
frozen), so a stale entry (another process, an administrator, a direct write) matches
nothing: the entry is dropped and the transaction is retried from a real read. Errors
(`INSUFFICIENT_FUNDS`, `WALLET_FROZEN`, ...) are only ever decided on a real read: only
open, unfrozen accounts are kept, and a cached balance too small for the debit reads.
Entries are stored after the commit only, never after an abort.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from bson import ObjectId

MAX_ACCOUNTS = 20_000


class AccountCache:
    """Account documents by id, least recently used dropped beyond `size`."""

    def __init__(self, size: int = MAX_ACCOUNTS) -> None:
        self._size = size
        self._docs: OrderedDict[ObjectId, dict[str, Any]] = OrderedDict()

    def get(self, account_id: ObjectId) -> dict[str, Any] | None:
        doc = self._docs.get(account_id)
        if doc is not None:
            self._docs.move_to_end(account_id)
        return doc

    def put(self, doc: dict[str, Any]) -> None:
        """Keep `doc` (as committed) if it can be debited or credited without a read."""
        if doc.get("frozen") or doc.get("closed"):
            self._docs.pop(doc["_id"], None)
            return
        self._docs[doc["_id"]] = doc
        self._docs.move_to_end(doc["_id"])
        while len(self._docs) > self._size:
            self._docs.popitem(last=False)

    def drop(self, *account_ids: ObjectId) -> None:
        for account_id in account_ids:
            self._docs.pop(account_id, None)

    def __len__(self) -> int:
        return len(self._docs)
