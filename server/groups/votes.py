"""Quorum votes: emergency unfreeze (families and workspaces) and recovery (families).

One open vote per group and purpose (a unique key), each member votes once (a
compare-and-set on the voter lists), closed at the moment it reaches its quorum, expired at
the moment of use once its window has passed (and by the sweep).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from server.core.actor import Actor
from server.core.errors import Conflict, NotFound
from server.groups.base import as_utc
from server.groups.documents import GroupDocument, Membership, QuorumVote
from server.groups.events import VoteChanged
from server.groups.invitations import InvitationMixin
from server.groups.schemas import VoteView

# purpose -> event noun
VOTE_NOUNS = {"emergency_unfreeze": "emergency_unfreeze", "recovery": "recovery"}


def quorum(members: int) -> int:
    """max(2, floor(members / 2)) approvals."""
    return max(2, members // 2)


def vote_view(v: QuorumVote) -> VoteView:
    return VoteView(
        id=str(v.id),
        group_id=str(v.group_id),
        purpose=v.purpose,
        opened_by=str(v.opened_by),
        reason=v.reason,
        required=v.required,
        approvals=[str(a) for a in v.approvals],
        rejections=[str(r) for r in v.rejections],
        status=v.status,
        created_at=v.created_at,
        expires_at=v.expires_at,
    )


class VotesMixin(InvitationMixin):
    def vote_event(self, purpose: str, verb: str) -> str:
        noun = VOTE_NOUNS[purpose]
        return f"{noun}.{verb}" if purpose == "emergency_unfreeze" else self.etype(f"{noun}_{verb}")

    async def _publish_vote(self, vote: QuorumVote, verb: str) -> None:
        await self.publish_group(
            vote.group_id,
            self.vote_event(vote.purpose, verb),
            VoteChanged(group_kind=self.kind.name, vote=vote_view(vote)),
        )

    async def open_vote(
        self, group: GroupDocument, member: Membership, purpose: str, reason: str, window: int
    ) -> QuorumVote:
        now = self.now()
        members = group.member_count
        vote = QuorumVote(
            group_kind=self.kind.name,
            group_id=group.id,  # type: ignore[arg-type]
            purpose=purpose,
            opened_by=member.user_id,
            reason=reason,
            required=quorum(members),
            approvals=[member.user_id],
            open_key=f"{group.id}:{purpose}",
            created_at=now,
            expires_at=now + timedelta(seconds=window),
        )
        for _ in range(2):
            try:
                await vote.insert()
                break
            except DuplicateKeyError:
                vote.id = None
                raw = await QuorumVote.get_pymongo_collection().find_one(
                    {"open_key": vote.open_key}
                )
                if raw is not None and as_utc(raw["expires_at"]) <= now:
                    await self._expire_vote(QuorumVote.model_validate(raw))
                    continue
                raise Conflict(
                    "A vote of this kind is already open.", code="VOTE_ALREADY_OPEN"
                ) from None
        else:
            raise Conflict("A vote of this kind is already open.", code="VOTE_ALREADY_OPEN")
        await self._publish_vote(vote, "opened")
        others = [uid for uid in await self.member_ids(group.id) if uid != member.user_id]  # type: ignore[arg-type]
        await self.notify(
            others,
            self.vote_event(purpose, "opened"),
            f"A vote was opened in {group.name}: {reason}",
            {"groupId": str(group.id), "voteId": str(vote.id)},
        )
        return vote

    async def _group_vote(self, group: GroupDocument, vote_id: Any, purpose: str) -> QuorumVote:
        vid = self.oid(vote_id)
        raw = (
            await QuorumVote.get_pymongo_collection().find_one(
                {"_id": vid, "group_id": group.id, "purpose": purpose}
            )
            if vid
            else None
        )
        if raw is None:
            raise NotFound("No such vote.", code="VOTE_NOT_FOUND")
        return QuorumVote.model_validate(raw)

    async def cast_vote(
        self, group: GroupDocument, member: Membership, vote_id: Any, purpose: str, approve: bool
    ) -> VoteView:
        vote = await self._group_vote(group, vote_id, purpose)
        if vote.status != "open":
            raise Conflict("This vote is closed.", code="VOTE_CLOSED")
        if as_utc(vote.expires_at) <= self.now():
            await self._expire_vote(vote)
            raise Conflict("This vote has expired.", code="VOTE_EXPIRED")
        uid = member.user_id
        raw = await QuorumVote.get_pymongo_collection().find_one_and_update(
            {
                "_id": vote.id,
                "status": "open",
                "expires_at": {"$gt": self.now()},
                "approvals": {"$ne": uid},
                "rejections": {"$ne": uid},
            },
            {"$push": {"approvals" if approve else "rejections": uid}},
            return_document=ReturnDocument.AFTER,
        )
        if raw is None:
            fresh = await self._group_vote(group, vote_id, purpose)
            if uid in fresh.approvals or uid in fresh.rejections:
                raise Conflict("You have already voted.", code="ALREADY_VOTED")
            raise Conflict("This vote is closed.", code="VOTE_CLOSED")
        vote = QuorumVote.model_validate(raw)
        await self._publish_vote(vote, "voted")
        if len(vote.approvals) >= vote.required:
            vote = await self._close_vote(group, vote, "approved")
        elif group.member_count - len(vote.rejections) < vote.required:
            vote = await self._close_vote(group, vote, "rejected")
        return vote_view(vote)

    async def _close_vote(self, group: GroupDocument, vote: QuorumVote, status: str) -> QuorumVote:

        async def work(session: AsyncClientSession) -> dict[str, Any] | None:
            raw = await QuorumVote.get_pymongo_collection().find_one_and_update(
                {"_id": vote.id, "status": "open"},
                {
                    "$set": {
                        "status": status,
                        "closed_at": self.now(),
                        "open_key": f"closed:{vote.id}",
                    }
                },
                session=session,
                return_document=ReturnDocument.AFTER,
            )
            if raw is not None and status == "approved":
                await self._on_vote_approved(group, QuorumVote.model_validate(raw), session)
            return raw

        raw = await self.transaction(work)
        if raw is None:  # someone else closed it a moment ago
            fresh = await self._group_vote(group, vote.id, vote.purpose)
            return fresh
        closed = QuorumVote.model_validate(raw)
        await self._publish_vote(closed, status)
        if status == "approved":
            await self._after_vote_approved(group, closed)
        return closed

    async def _on_vote_approved(
        self, group: GroupDocument, vote: QuorumVote, session: AsyncClientSession
    ) -> None:
        """Apply the decision inside the closing transaction (see the wallet and families)."""

    async def _after_vote_approved(self, group: GroupDocument, vote: QuorumVote) -> None:
        """Publish what the decision changed, after the commit."""

    async def _expire_vote(self, vote: QuorumVote) -> bool:
        raw = await QuorumVote.get_pymongo_collection().find_one_and_update(
            {"_id": vote.id, "status": "open"},
            {
                "$set": {
                    "status": "expired",
                    "closed_at": self.now(),
                    "open_key": f"closed:{vote.id}",
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if raw is None:
            return False
        await self._publish_vote(QuorumVote.model_validate(raw), "expired")
        return True

    async def expire_votes(self, *, limit: int = 500) -> int:
        raws = await (
            QuorumVote.get_pymongo_collection()
            .find(
                {"group_kind": self.kind.name, "status": "open", "expires_at": {"$lte": self.now()}}
            )
            .to_list(limit)
        )
        count = 0
        for raw in raws:
            if await self._expire_vote(QuorumVote.model_validate(raw)):
                count += 1
        return count

    async def list_votes(self, actor: Actor, group_id: Any, purpose: str) -> list[VoteView]:
        self.require_read(actor)
        group, _ = await self.load(actor, group_id)
        raws = await (
            QuorumVote.get_pymongo_collection()
            .find({"group_id": group.id, "purpose": purpose})
            .sort("_id", -1)
            .to_list(100)
        )
        return [vote_view(QuorumVote.model_validate(r)) for r in raws]
