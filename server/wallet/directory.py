"""`AccountDirectory`: who holds which account, and who may move money (for `WalletManager`).

Immutable or one-way facts are cached to save reads on the hot path: a user's account id
never changes, usernames are immutable, and a verified e-mail is trusted for
`VERIFIED_CACHE_SECONDS`.
"""

from __future__ import annotations

import time

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from auth.documents import User
from server.core.actor import Actor
from server.core.errors import BadRequest
from server.wallet.documents import Account
from server.wallet.errors import EmailNotVerified, RecipientNotFound
from server.wallet.ledger import Ledger
from server.wallet.schemas import Party

VERIFIED_CACHE_SECONDS = 300.0
LOOKUP_CACHE_SECONDS = 300.0
CACHE_LIMIT = 100_000


class AccountDirectory:
    """Account lookups by user, username or account id, and the verified-e-mail check."""

    def __init__(self, *, ledger: Ledger, require_verified_email: bool = True) -> None:
        self._ledger = ledger
        self.require_verified_email = require_verified_email
        self._account_ids: dict[ObjectId, ObjectId] = {}
        self._verified_until: dict[ObjectId, float] = {}
        # username -> (account id, owner id, cached until)
        self._by_username: dict[str, tuple[ObjectId, ObjectId, float]] = {}

    async def on_user_created(self, user: User, session: AsyncClientSession) -> None:
        """The `AuthManager` user-created hook: every user gets an account at registration."""
        await self._ledger.open_account(
            "user",
            user.id,  # type: ignore[arg-type]
            session=session,
            username=user.username,
        )

    async def user_account(self, user_id: ObjectId, *, username: str | None = None) -> Account:
        """The user's account (opened on the fly for users created before the wallet)."""
        account = await self._ledger.account_for("user", user_id)
        if account is None or (username is not None and account.username is None):
            account = await self._ledger.open_account("user", user_id, username=username)
        if len(self._account_ids) > CACHE_LIMIT:
            self._account_ids.clear()
        self._account_ids[user_id] = account.id  # type: ignore[assignment]
        return account

    async def user_account_id(self, user_id: ObjectId) -> ObjectId:
        """The id of the user's account (cached: it never changes)."""
        cached = self._account_ids.get(user_id)
        if cached is None:
            cached = (await self.user_account(user_id)).id
        return cached  # type: ignore[return-value]

    async def require_verified(self, actor: Actor) -> None:
        """403 `EMAIL_NOT_VERIFIED` unless the actor may move money (verified e-mail)."""
        if not self.require_verified_email or actor.auth_method == "system":
            return
        now = time.monotonic()
        if self._verified_until.get(actor.user_id, 0.0) > now:
            return
        doc = await User.get_pymongo_collection().find_one(
            {"_id": actor.user_id}, {"email_verified": 1}
        )
        if doc is None or not doc.get("email_verified"):
            raise EmailNotVerified("Verify your e-mail address before moving tokens.")
        if len(self._verified_until) > CACHE_LIMIT:
            self._verified_until.clear()
        self._verified_until[actor.user_id] = now + VERIFIED_CACHE_SECONDS

    async def resolve_party(self, party: Party) -> Account:
        """The account named by `{username}` or `{accountId}`, else `RECIPIENT_NOT_FOUND`.

        Only its id and owner are reliable (a username hit may come from a short cache);
        read the account again for its balance or state.
        """
        if (party.username is None) == (party.account_id is None):
            raise BadRequest(
                "Name the recipient by exactly one of username or accountId.",
                code="VALIDATION_ERROR",
                details=[{"field": "to", "message": "exactly one of username, accountId"}],
            )
        if party.username is not None:
            return await self._by_name(party.username.strip().lower())
        account = await self._ledger.get_account(party.account_id)  # type: ignore[arg-type]
        if account is None or account.is_system:
            raise RecipientNotFound("No wallet with this account id.")
        return account

    async def _by_name(self, name: str) -> Account:
        now = time.monotonic()
        hit = self._by_username.get(name)
        if hit is not None and hit[2] > now:
            return Account(id=hit[0], owner_type="user", owner_id=hit[1], username=name)
        doc = await Account.get_pymongo_collection().find_one(
            {"username": name, "owner_type": "user"}
        )
        if doc is not None:
            if len(self._by_username) > CACHE_LIMIT:
                self._by_username.clear()
            self._by_username[name] = (doc["_id"], doc["owner_id"], now + LOOKUP_CACHE_SECONDS)
            return Account.model_validate(doc)
        # Accounts opened before they carried the username: look the user up.
        user = await User.get_pymongo_collection().find_one(
            {"username": name, "is_active": True}, {"_id": 1}
        )
        if user is None:
            raise RecipientNotFound("No user with this username.")
        return await self.user_account(user["_id"], username=name)
