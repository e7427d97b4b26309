"""Read models of the ledger: wallet and transfer views, and the owner of each account.

Owners never change, so they are cached: the ledger remembers both accounts of every
movement, and a transfer view then needs no read at all (not even on the hot path of the
`wallet.transfer_completed` event, built inside the transaction).
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from server.wallet.documents import ISSUER_OWNER_ID, Account, Transfer
from server.wallet.schemas import OwnerView, TransferView, WalletView

MAX_CACHED_OWNERS = 50_000
SYSTEM_ID = "system"  # how the issuer (mint, rewards) and system actions show on the wire


def owner_view(owner_type: str, owner_id: object) -> OwnerView:
    """The owner of an account; the system account's placeholder id never leaves the server
    (clients showed 24 zeros as a user)."""
    if owner_type == "system":
        return OwnerView(type="system", id=SYSTEM_ID)
    return OwnerView(type=owner_type, id=str(owner_id))


def actor_id(value: ObjectId) -> str:
    """Who moved the tokens: a user id, or `system` for the issuer and system jobs."""
    return SYSTEM_ID if value == ISSUER_OWNER_ID else str(value)


def wallet_view(account: Account, *, with_owner: bool = False) -> WalletView:
    return WalletView(
        account_id=str(account.id),
        balance=account.balance,
        frozen=account.frozen,
        frozen_reason=account.frozen_reason,
        owner=owner_view(account.owner_type, account.owner_id) if with_owner else None,
    )


class TransferViews:
    """Builds `TransferView`s, with a cache of account owners."""

    def __init__(self) -> None:
        self._owners: dict[ObjectId, OwnerView] = {}

    @staticmethod
    def _accounts() -> Any:
        return Account.get_pymongo_collection()

    def remember(self, account_id: ObjectId, owner: OwnerView) -> None:
        if len(self._owners) > MAX_CACHED_OWNERS:
            self._owners.clear()
        self._owners[account_id] = owner

    def remember_account(self, account: Account) -> None:
        if account.id is not None:
            self.remember(ObjectId(account.id), owner_view(account.owner_type, account.owner_id))

    async def owner(self, account_id: ObjectId) -> OwnerView:
        owner = self._owners.get(account_id)
        if owner is None:
            doc = await self._accounts().find_one(
                {"_id": account_id}, {"owner_type": 1, "owner_id": 1}
            )
            owner = (
                owner_view(doc["owner_type"], doc["owner_id"])
                if doc
                else OwnerView(type="unknown", id="")
            )
            self.remember(account_id, owner)
        return owner

    async def view(self, t: Transfer, *, viewer: ObjectId | None = None) -> TransferView:
        balance_after = None
        if viewer == t.from_account:
            balance_after = t.from_balance_after
        elif viewer == t.to_account:
            balance_after = t.to_balance_after
        return TransferView(
            id=str(t.id),
            kind=t.kind,
            amount=t.amount,
            from_account_id=str(t.from_account),
            to_account_id=str(t.to_account),
            from_owner=await self.owner(t.from_account),
            to_owner=await self.owner(t.to_account),
            actor_id=actor_id(t.actor_id),
            memo=t.memo,
            correlation_id=t.correlation_id,
            created_at=t.created_at,
            balance_after=balance_after,
        )
