"""Wallet notifications: the ledger's after-commit hooks that notify the account's user.

Registered by the composition root (`server/compose/build.py`) with
`wallet.add_moved_hook` / `wallet.add_frozen_hook`; the wallet itself never imports this.

- `wallet.transfer_received`: tokens credited to a user's own wallet — a transfer from
  another user, a mint or reward, a payout from a family or workspace wallet (approved
  token request, deletion payout), a refund. Not when the recipient caused the credit
  themselves (e.g. an auto-approved request of their own, their share of a deletion they
  ran): like every notification, it tells about what someone or something else did.
- `wallet.frozen` / `wallet.unfrozen` of a user's own wallet (an administrator's action).
  Family and workspace wallets notify their members from the group managers instead.

Muted types are honoured by `NotificationManager.notify`. A failure here is logged and
counted by the ledger and never affects the movement.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bson import ObjectId

from auth.documents import User
from server.notifications.manager import NotificationManager
from server.wallet.documents import Account
from server.wallet.movement import Moved

TRANSFER_RECEIVED = "wallet.transfer_received"
WALLET_FROZEN = "wallet.frozen"
WALLET_UNFROZEN = "wallet.unfrozen"

# Sender usernames remembered (they never change), so a notification costs no user read.
USERNAME_CACHE_LIMIT = 50_000

# (owner type, owner id) -> the display name of a family or workspace, or None.
GroupNamer = Callable[[str, ObjectId], Awaitable[str | None]]


async def _no_group_name(owner_type: str, owner_id: ObjectId) -> str | None:
    return None


class WalletNotifier:
    def __init__(
        self, notifications: NotificationManager, *, group_name: GroupNamer = _no_group_name
    ) -> None:
        self._notifications = notifications
        self._group_name = group_name
        self._usernames: dict[ObjectId, str] = {}

    async def on_moved(self, moved: Moved) -> None:
        t, target = moved.transfer, moved.to_account
        if target.owner_type != "user" or ObjectId(target.owner_id) == ObjectId(t.actor_id):
            return
        sender = await self._sender(moved.from_account)
        name = sender["name"] or f"A {sender['type']}"
        if sender["type"] == "user":
            title = f"{name} sent you {t.amount} tokens"
        elif sender["type"] in ("family", "workspace"):
            title = f"{name} paid you {t.amount} tokens"
        else:
            title = f"You received {t.amount} tokens"
        if t.memo:
            title = f"{title}: {t.memo}"
        await self._notifications.notify(
            [target.owner_id],
            TRANSFER_RECEIVED,
            title,
            {
                "transferId": str(t.id),
                "kind": t.kind,
                "amount": t.amount,
                "memo": t.memo,
                "sender": sender,
                "accountId": str(target.id),
                "balance": t.to_balance_after,
            },
        )

    async def _sender(self, account: Account) -> dict[str, Any]:
        kind, owner_id = account.owner_type, ObjectId(account.owner_id)
        name: str | None = None
        if kind == "user":
            name = account.username or self._usernames.get(owner_id)
            if name is None:
                doc = await User.get_pymongo_collection().find_one(
                    {"_id": owner_id}, {"username": 1}
                )
                name = doc["username"] if doc else None
                if name is not None:
                    if len(self._usernames) >= USERNAME_CACHE_LIMIT:
                        self._usernames.clear()
                    self._usernames[owner_id] = name
        elif kind in ("family", "workspace"):
            name = await self._group_name(kind, owner_id)
        return {"type": kind, "id": None if kind == "system" else str(owner_id), "name": name}

    async def on_frozen(self, account: Account) -> None:
        if account.owner_type != "user":
            return
        if account.frozen:
            reason = f": {account.frozen_reason}" if account.frozen_reason else "."
            type_, title = WALLET_FROZEN, f"Your wallet was frozen{reason}"
        else:
            type_, title = WALLET_UNFROZEN, "Your wallet was unfrozen."
        await self._notifications.notify(
            [account.owner_id],
            type_,
            title,
            {"accountId": str(account.id), "reason": account.frozen_reason},
        )
