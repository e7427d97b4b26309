"""What the ledger moves: an authorised `Movement`, its result `Moved`, and the amount rule.

Its own module so the ledger and its after-commit hooks both import it without importing
each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from server.wallet.documents import Account, Transfer
from server.wallet.errors import InvalidAmount
from server.wallet.schemas import MAX_AMOUNT

MAX_MEMO = 280


@dataclass(frozen=True, slots=True)
class Movement:
    """An already-authorised intent to move `amount` tokens between two accounts.

    `idempotency_key` is unique forever across the ledger: a second `move` with the same key
    never moves tokens again (it answers the first transfer, or 409 if the intent differs).
    Internal callers namespace their keys, e.g. `shop:purchase:<id>`, `family:payout:<id>:<n>`.
    `correlation_id` ties the legs of one multi-leg operation together.
    """

    from_account: ObjectId
    to_account: ObjectId
    amount: int
    kind: str
    idempotency_key: str
    actor_id: ObjectId
    memo: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Moved:
    """A transfer written by `Ledger.move` and both accounts right after it."""

    transfer: Transfer
    from_account: Account
    to_account: Account
    replayed: bool = False


def check_amount(amount: Any) -> int:
    """A positive integer up to 10^12, else `INVALID_AMOUNT` (422)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidAmount(
            "The amount must be a whole number of tokens.",
            details=[{"field": "amount", "message": "must be an integer"}],
        )
    if amount <= 0 or amount > MAX_AMOUNT:
        raise InvalidAmount(
            f"The amount must be between 1 and {MAX_AMOUNT} tokens.",
            details=[{"field": "amount", "message": f"1..{MAX_AMOUNT}"}],
        )
    return amount
