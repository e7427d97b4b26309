"""The wallet's event types, for the AsyncAPI document (type -> payload Struct)."""

from __future__ import annotations

from typing import Any

from server.wallet.schemas import TransferCompletedEvent, WalletFrozenEvent

TRANSFER_COMPLETED = "wallet.transfer_completed"
WALLET_FROZEN = "wallet.frozen"
WALLET_UNFROZEN = "wallet.unfrozen"

EVENT_TYPES: dict[str, type[Any]] = {
    TRANSFER_COMPLETED: TransferCompletedEvent,
    WALLET_FROZEN: WalletFrozenEvent,
    WALLET_UNFROZEN: WalletFrozenEvent,
}
