"""The group's ledger account: opened with the group, found (or reopened) when used."""

from __future__ import annotations

from pymongo.asynchronous.client_session import AsyncClientSession

from server.core.ids import stored_id
from server.groups.core import GroupCore
from server.groups.documents import GroupDocument
from server.wallet.documents import Account
from server.wallet.errors import WalletFrozen
from server.wallet.ledger import Ledger


class GroupAccounts:
    def __init__(self, core: GroupCore, ledger: Ledger) -> None:
        self.core = core
        self.ledger = ledger

    async def open(self, group: GroupDocument, session: AsyncClientSession) -> None:
        """Open the group's account inside the creating transaction."""
        account = await self.ledger.open_account(
            self.core.kind.name, stored_id(group.id), session=session
        )
        group.account_id = str(account.id)
        await self.core.document.get_pymongo_collection().update_one(
            {"_id": group.id}, {"$set": {"account_id": group.account_id}}, session=session
        )

    async def of(self, group: GroupDocument, session: AsyncClientSession | None = None) -> Account:
        gid = stored_id(group.id)
        account = await self.ledger.account_for(self.core.kind.name, gid, session=session)
        if account is None:
            account = await self.ledger.open_account(self.core.kind.name, gid, session=session)
        return account

    def frozen(self) -> WalletFrozen:
        return WalletFrozen(f"The {self.core.kind.label} wallet is frozen.")
