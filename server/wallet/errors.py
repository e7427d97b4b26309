"""The wallet's domain errors (each a 4xx with the standard error body)."""

from __future__ import annotations

from server.core.errors import Conflict, Forbidden, NotFound, Unprocessable


class InsufficientFunds(Conflict):
    """409: the paying wallet holds less than the amount."""

    code = "INSUFFICIENT_FUNDS"


class WalletFrozen(Conflict):
    """409: the paying wallet is frozen (it still receives)."""

    code = "WALLET_FROZEN"


class WalletClosed(Conflict):
    code = "WALLET_CLOSED"


class RecipientNotFound(NotFound):
    code = "RECIPIENT_NOT_FOUND"


class AccountNotFound(NotFound):
    code = "ACCOUNT_NOT_FOUND"


class InvalidAmount(Unprocessable):
    code = "INVALID_AMOUNT"


class SelfTransfer(Unprocessable):
    code = "SELF_TRANSFER"


class EmailNotVerified(Forbidden):
    code = "EMAIL_NOT_VERIFIED"
