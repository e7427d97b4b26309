"""`WalletAdmin`: the administrators' wallet actions and the signed reward callback.

Composed into `WalletManager` (which delegates to it); each method checks the actor itself.
"""

from __future__ import annotations

import msgspec
from bson import ObjectId

from auth.documents import User
from auth.scopes import require_scope
from server.core.actor import Actor
from server.core.db import Tx
from server.core.errors import Forbidden, ServiceUnavailable, Unauthorized, Unprocessable
from server.wallet.audit import run_audit
from server.wallet.directory import AccountDirectory
from server.wallet.documents import ISSUER_OWNER_ID, Account
from server.wallet.errors import AccountNotFound, RecipientNotFound
from server.wallet.ledger import Ledger
from server.wallet.movement import Movement, check_amount
from server.wallet.rewards import signature_valid
from server.wallet.schemas import AuditReport, RewardCallback, RewardResponse, WalletView
from server.wallet.views import wallet_view


def _require_admin(actor: Actor, message: str) -> None:
    require_scope(actor, "wallet:admin")
    if not actor.is_admin:
        raise Forbidden(message)


class WalletAdmin:
    def __init__(
        self, *, ledger: Ledger, directory: AccountDirectory, reward_secret: str = ""
    ) -> None:
        self._ledger = ledger
        self._directory = directory
        self._reward_secret = reward_secret

    async def audit(self, actor: Actor) -> AuditReport:
        """Admins only: the ledger audit (see `server.wallet.audit`)."""
        _require_admin(actor, "Only administrators can audit the ledger.")
        return await run_audit()

    async def admin_account(self, actor: Actor, account_id: str) -> WalletView:
        _require_admin(actor, "Only administrators can inspect other wallets.")
        account = await self._ledger.get_account(account_id)
        if account is None:
            raise AccountNotFound("No such account.")
        return wallet_view(account, with_owner=True)

    async def admin_set_frozen(
        self, actor: Actor, account_id: str, *, frozen: bool, reason: str | None = None
    ) -> WalletView:
        """Admins only: freeze or unfreeze any non-system account."""
        _require_admin(actor, "Only administrators can freeze wallets.")
        if not ObjectId.is_valid(account_id):
            raise AccountNotFound("No such account.")
        oid, ledger = ObjectId(account_id), self._ledger

        async def work(tx: Tx) -> Account:
            if frozen:
                return await ledger.freeze_account(tx, oid, reason=reason or "")
            return await ledger.unfreeze_account(tx, oid)

        return wallet_view(await ledger.run(work), with_owner=True)

    async def reward(self, body: bytes, signature: str | None) -> tuple[RewardResponse, bool]:
        """A signed reward callback: mint to the named user once per `eventId`.

        Returns the response and whether it was new. 503 `REWARDS_DISABLED` without a
        secret, 401 `INVALID_SIGNATURE` for a bad or missing signature.
        """
        if not self._reward_secret:
            raise ServiceUnavailable(
                "Reward callbacks are not configured.", code="REWARDS_DISABLED"
            )
        if not signature_valid(self._reward_secret, body, signature):
            raise Unauthorized("The signature is not valid.", code="INVALID_SIGNATURE")
        try:
            cmd = msgspec.json.decode(body, type=RewardCallback)
        except msgspec.DecodeError as exc:
            raise Unprocessable(
                "The callback body is not valid.", details=[{"message": str(exc)}]
            ) from exc
        amount = check_amount(cmd.amount)
        if (cmd.username is None) == (cmd.user_id is None):
            raise Unprocessable(
                "Name the user by exactly one of username or userId.",
                details=[{"field": "username", "message": "exactly one of username, userId"}],
            )
        if cmd.user_id is not None:
            user = await User.get_pymongo_collection().find_one({"_id": ObjectId(cmd.user_id)})
        else:
            user = await User.get_pymongo_collection().find_one(
                {"username": (cmd.username or "").lower()}
            )
        if user is None:
            raise RecipientNotFound("No such user.")
        target = await self._directory.user_account(user["_id"])
        issuer = await self._ledger.issuer_account()
        moved = await self._ledger.commit_move(
            Movement(
                from_account=issuer.id,  # type: ignore[arg-type]
                to_account=target.id,  # type: ignore[arg-type]
                amount=amount,
                kind="mint",
                idempotency_key=f"reward:{cmd.event_id}",
                actor_id=ISSUER_OWNER_ID,
                memo=cmd.reason or "reward",
                correlation_id=f"reward:{cmd.event_id}",
            )
        )
        view = await self._ledger.transfer_view(moved.transfer, viewer=target.id)
        return RewardResponse(transfer=view, duplicate=moved.replayed), not moved.replayed
