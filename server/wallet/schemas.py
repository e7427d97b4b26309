"""Wire types of the wallet (camelCase JSON): requests, responses and event payloads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from server.core.wire import Input, ObjectIdStr, Output

MAX_AMOUNT = 10**12

MemoIn = Annotated[str, msgspec.Meta(max_length=280)]
ReasonIn = Annotated[str, msgspec.Meta(min_length=1, max_length=280)]
UsernameRef = Annotated[str, msgspec.Meta(min_length=1, max_length=50)]
EventIdIn = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
# Any JSON number or string is accepted here and checked by the manager, so a fractional,
# out-of-range or quoted amount answers INVALID_AMOUNT (never a silent coercion).
AmountIn = Annotated[int | float | str, msgspec.Meta(description="A whole number of tokens")]


class Party(Input):
    """Exactly one of `username` or `accountId`."""

    username: UsernameRef | None = None
    account_id: ObjectIdStr | None = None


class TransferRequest(Input):
    to: Party
    amount: AmountIn
    memo: MemoIn | None = None


class MintRequest(Input):
    to: Party
    amount: AmountIn
    reason: ReasonIn


class RewardCallback(Input):
    """The body of a signed reward callback: mints `amount` to the named user once per id."""

    event_id: EventIdIn
    amount: AmountIn
    username: UsernameRef | None = None
    user_id: ObjectIdStr | None = None
    reason: MemoIn | None = None


class FreezeRequest(Input):
    reason: ReasonIn


class OwnerView(Output):
    type: str
    id: str


class WalletView(Output):
    account_id: str
    balance: int
    frozen: bool
    owner: OwnerView | None = None
    frozen_reason: str | None = None


class TransferView(Output):
    id: str
    kind: str
    amount: int
    from_account_id: str
    to_account_id: str
    from_owner: OwnerView
    to_owner: OwnerView
    actor_id: str
    memo: str | None
    correlation_id: str | None
    created_at: datetime
    # The balance of the viewer's account right after this transfer (None for third parties).
    balance_after: int | None = None


class TransferResponse(Output):
    transfer: TransferView
    balance: int


class TransferPage(Output):
    items: list[TransferView]
    next_cursor: str | None


class RewardResponse(Output):
    transfer: TransferView
    duplicate: bool


class AuditMismatch(Output):
    account_id: str
    owner: OwnerView
    balance: int
    expected: int


class AuditReport(Output):
    ok: bool
    accounts: int
    total_balance: int
    minted: int
    burned: int
    mismatches: list[AuditMismatch]
    negative_balances: list[str] = msgspec.field(default_factory=list)


# ------------------------------------------------------------------------------ events


class TransferCompletedEvent(Output):
    """`wallet.transfer_completed`, on each party's channel with that party's new balance."""

    transfer: TransferView
    account_id: str
    balance: int


class WalletFrozenEvent(Output):
    """`wallet.frozen` / `wallet.unfrozen`, on the owner's channel."""

    account_id: str
    frozen: bool
    reason: str | None
