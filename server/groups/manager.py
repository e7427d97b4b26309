"""`GroupManager`: the thin facade of one group kind over composed collaborators.

Each feature is its own object with typed dependencies (no mixins, no inheritance between
them): `GroupCore` (loading, access, views, clock), `Members`, `Invitations`, `Votes`,
`GroupWallet`, `TokenRequests`, `GroupPurchases`, `GroupDeletion`. What a kind adds is its
`extras` (`FamilyExtras`, `WorkspaceExtras`), which also supply the kind's `KindRules`.
The facade's methods are the collaborators' bound methods, so mypy checks every caller
(routes, agent tools) against the collaborator that implements it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from pymongo import AsyncMongoClient

from realtime.bus import EventBus
from server.groups.accounts import GroupAccounts
from server.groups.config import GroupConfig
from server.groups.core import GroupCore
from server.groups.deletion import GroupDeletion
from server.groups.documents import GroupDocument
from server.groups.hooks import KindRules
from server.groups.invitations import Invitations
from server.groups.kinds import GroupKind
from server.groups.limits import SpendLimits
from server.groups.membership import Members
from server.groups.purchases import GroupPurchases
from server.groups.request_store import RequestStore
from server.groups.requests import TokenRequests
from server.groups.slots import MembershipSlots
from server.groups.votes import Votes
from server.groups.wallet import GroupWallet
from server.notifications.manager import NotificationManager
from server.shop.manager import ShopManager
from server.wallet.ledger import Ledger
from server.wallet.manager import WalletManager

E = TypeVar("E", bound=KindRules, covariant=True)


class GroupManager(Generic[E]):
    """Everything one group kind can do, each call handed to the collaborator that owns it."""

    def __init__(
        self,
        core: GroupCore,
        votes: Votes,
        extras: E,
        *,
        ledger: Ledger,
        wallet: WalletManager,
        shop: ShopManager,
    ) -> None:
        self.core = core
        self.extras = extras
        slots = MembershipSlots(core)
        self.accounts = accounts = GroupAccounts(core, ledger)
        limits = SpendLimits(core)
        store = RequestStore(core)
        self.members = Members(core, slots, accounts, extras)
        self.invitations = Invitations(core, slots, extras, wallet)
        self.votes = votes
        self.group_wallet = GroupWallet(core, accounts, limits, votes, ledger, wallet)
        self.purchases = GroupPurchases(core, store, accounts, limits, shop)
        self.requests = TokenRequests(core, store, accounts, self.purchases, ledger, wallet)
        self.deletion = GroupDeletion(core, accounts, slots, votes, extras, ledger, wallet)

        # core: loading and access (the channel authorizer, the inbox, tests)
        self.kind = core.kind
        self.created_hooks = core.created_hooks
        self.oid = core.oid
        self.find_group = core.find_group
        self.is_member = core.is_member
        self.members_of = core.members_of
        self.require_read = core.require_read
        self.invitation_view = core.invitation_view
        # groups and members
        self.create = self.members.create
        self.list_mine = self.members.list_mine
        self.get = self.members.get
        self.update = self.members.update
        self.list_members = self.members.list_members
        self.change_role = self.members.change_role
        self.remove_member = self.members.remove_member
        self.leave = self.members.leave
        self.delete = self.deletion.delete
        # invitations
        self.invite = self.invitations.invite
        self.list_invitations = self.invitations.list_invitations
        self.cancel_invitation = self.invitations.cancel_invitation
        self.resend_invitation = self.invitations.resend_invitation
        self.accept_invitation = self.invitations.accept_invitation
        self.decline_invitation = self.invitations.decline_invitation
        self.expire_invitation = self.invitations.expire_invitation
        # the wallet and votes
        self.wallet = self.group_wallet.wallet
        self.set_permissions = self.group_wallet.set_permissions
        self.list_transfers = self.group_wallet.list_transfers
        self.freeze = self.group_wallet.freeze
        self.unfreeze = self.group_wallet.unfreeze
        self.spend = self.group_wallet.spend
        self.open_emergency_unfreeze = self.group_wallet.open_emergency_unfreeze
        self.vote_emergency_unfreeze = self.group_wallet.vote_emergency_unfreeze
        self.list_votes = votes.list_votes
        # requests and purchases
        self.create_token_request = self.requests.create_token_request
        self.list_requests = self.requests.list_requests
        self.approve_request = self.requests.approve_request
        self.deny_request = self.requests.deny_request
        self.shop_payer = self.purchases.shop_payer
        self._store = store

    @classmethod
    def build(
        cls,
        extras: Callable[[GroupCore, Votes], E],
        *,
        kind: GroupKind,
        document: type[GroupDocument],
        mongo: AsyncMongoClient[Any],
        bus: EventBus,
        notifications: NotificationManager,
        ledger: Ledger,
        wallet: WalletManager,
        shop: ShopManager,
        config: GroupConfig | None = None,
    ) -> GroupManager[E]:
        """The manager of one kind, its `extras` built on the same core and votes."""
        core = GroupCore(
            kind=kind,
            document=document,
            mongo=mongo,
            bus=bus,
            notifications=notifications,
            config=config,
        )
        votes = Votes(core)
        return cls(core, votes, extras(core, votes), ledger=ledger, wallet=wallet, shop=shop)

    @property
    def now(self) -> Callable[[], datetime]:
        """The kind's clock (tests replace it to move time; every collaborator reads it)."""
        return self.core.now

    @now.setter
    def now(self, clock: Callable[[], datetime]) -> None:
        self.core.now = clock

    async def sweep(self) -> dict[str, int]:
        """Expire invitations, requests and votes past their time (the SAQ cron job)."""
        return {
            "invitations": await self.invitations.expire_invitations(),
            "requests": await self._store.expire_all(),
            "votes": await self.votes.expire_votes(),
        }
