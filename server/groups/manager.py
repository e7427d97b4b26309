"""`GroupManager`: everything families and workspaces share, parameterised by `GroupKind`.

Membership, invitations, quorum votes, the wallet, requests and deletion are mixins over
one base; the family and workspace managers subclass this and add what is theirs alone.
"""

from __future__ import annotations

from server.groups.deletion import DeletionMixin


class GroupManager(DeletionMixin):
    """The write path for one kind of group (see the mixins for each feature)."""

    async def sweep(self) -> dict[str, int]:
        """Expire invitations, requests and votes past their time (the SAQ cron job)."""
        return {
            "invitations": await self.expire_invitations(),
            "requests": await self.expire_requests(),
            "votes": await self.expire_votes(),
        }
