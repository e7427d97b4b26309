"""What a group kind adds to the shared collaborators, as explicit interfaces (no overrides).

`KindRules` is implemented by each kind's extras (`FamilyExtras`, `WorkspaceExtras`) and
handed to members, invitations and deletion; `VoteDecision` is what a quorum vote does once
approved, registered per purpose on `Votes` (the wallet's emergency unfreeze, the family's
recovery).
"""

from __future__ import annotations

from typing import Any, Protocol

from pymongo.asynchronous.client_session import AsyncClientSession

from server.core.db import Tx
from server.groups.documents import GroupDocument, Invitation, Membership, QuorumVote


class KindRules(Protocol):
    """The kind-specific parts of joining, leaving and deleting a group."""

    def check_relationship(self, relationship: str | None) -> str | None:
        """The relationship an invitation records (families name one; others none)."""
        ...

    async def on_member_joined(
        self, group: GroupDocument, inv: Invitation, session: AsyncClientSession
    ) -> None:
        """Store kind-specific data inside the joining transaction."""
        ...

    async def after_member_joined(self, group: GroupDocument, inv: Invitation) -> None:
        """Publish what the join changed for this kind, after the commit."""
        ...

    async def on_member_removed(
        self, group: GroupDocument, user_id: Any, session: AsyncClientSession
    ) -> None:
        """Drop kind-specific data about a member inside the removing transaction."""
        ...

    def may_delete(self, member: Membership) -> bool:
        """Whether this member may delete the group."""
        ...


class VoteDecision(Protocol):
    """What an approved vote of one purpose does."""

    async def apply(self, group: GroupDocument, vote: QuorumVote, tx: Tx) -> None:
        """Apply the decision inside the transaction that closes the vote."""
        ...

    async def announce(self, group: GroupDocument, vote: QuorumVote) -> None:
        """Publish and notify what the decision changed, after the commit."""
        ...
