"""Quorum votes: emergency unfreeze (families and workspaces) and recovery (families).

One open vote per group and purpose (a unique key), each member votes once (a
compare-and-set on the voter lists), closed at the moment it reaches its quorum, expired at
the moment of use once its window has passed (and by the sweep).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from server.core.actor import Actor
from server.core.db import Tx
from server.core.errors import Conflict, NotFound
from server.groups.core import GroupCore, as_utc
from server.groups.documents import GroupDocument, Membership, QuorumVote
from server.groups.events import VoteChanged
from server.groups.hooks import VoteDecision
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


class Votes:
    """Quorum votes of one group kind; what an approved vote does is a `VoteDecision`
    registered for its purpose by the collaborator that owns it."""

    def __init__(self, core: GroupCore) -> None:
        self.core = core
        self._decisions: dict[str, VoteDecision] = {}

    def decide_with(self, purpose: str, decision: VoteDecision) -> None:
        """Register what an approved vote of `purpose` does."""
        self._decisions[purpose] = decision

    def vote_event(self, purpose: str, verb: str) -> str:
        noun = VOTE_NOUNS[purpose]
        return (
            f"{noun}.{verb}"
            if purpose == "emergency_unfreeze"
            else self.core.etype(f"{noun}_{verb}")
        )

    async def _publish_vote(self, vote: QuorumVote, verb: str) -> None:
        await self.core.publish_group(
            vote.group_id,
            self.vote_event(vote.purpose, verb),
            VoteChanged(group_kind=self.core.kind.name, vote=vote_view(vote)),
        )

    async def open_vote(
        self, group: GroupDocument, member: Membership, purpose: str, reason: str, window: int
    ) -> QuorumVote:
        now = self.core.now()
        members = group.member_count
        vote = QuorumVote(
            group_kind=self.core.kind.name,
            group_id=group.id,
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
                    await self.expire_vote(QuorumVote.model_validate(raw))
                    continue
                raise Conflict(
                    "A vote of this kind is already open.", code="VOTE_ALREADY_OPEN"
                ) from None
        else:
            raise Conflict("A vote of this kind is already open.", code="VOTE_ALREADY_OPEN")
        await self._publish_vote(vote, "opened")
        others = [uid for uid in await self.core.member_ids(group.id) if uid != member.user_id]  # type: ignore[arg-type]
        await self.core.notify(
            others,
            self.vote_event(purpose, "opened"),
            f"A vote was opened in {group.name}: {reason}",
            {"groupId": str(group.id), "voteId": str(vote.id)},
        )
        return vote

    async def _group_vote(self, group: GroupDocument, vote_id: Any, purpose: str) -> QuorumVote:
        vid = self.core.oid(vote_id)
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
        if as_utc(vote.expires_at) <= self.core.now():
            await self.expire_vote(vote)
            raise Conflict("This vote has expired.", code="VOTE_EXPIRED")
        uid = member.user_id
        raw = await QuorumVote.get_pymongo_collection().find_one_and_update(
            {
                "_id": vote.id,
                "status": "open",
                "expires_at": {"$gt": self.core.now()},
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

        async def work(tx: Tx) -> dict[str, Any] | None:

            session = tx.session
            raw = await QuorumVote.get_pymongo_collection().find_one_and_update(
                {"_id": vote.id, "status": "open"},
                {
                    "$set": {
                        "status": status,
                        "closed_at": self.core.now(),
                        "open_key": f"closed:{vote.id}",
                    }
                },
                session=session,
                return_document=ReturnDocument.AFTER,
            )
            decision = self._decisions.get(vote.purpose)
            if raw is not None and status == "approved" and decision is not None:
                await decision.apply(group, QuorumVote.model_validate(raw), tx)
            return raw

        raw = await self.core.transaction(work)
        if raw is None:  # someone else closed it a moment ago
            fresh = await self._group_vote(group, vote.id, vote.purpose)
            return fresh
        closed = QuorumVote.model_validate(raw)
        await self._publish_vote(closed, status)
        decision = self._decisions.get(closed.purpose)
        if status == "approved" and decision is not None:
            await decision.announce(group, closed)
        return closed

    async def expire_vote(self, vote: QuorumVote) -> bool:
        raw = await QuorumVote.get_pymongo_collection().find_one_and_update(
            {"_id": vote.id, "status": "open"},
            {
                "$set": {
                    "status": "expired",
                    "closed_at": self.core.now(),
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
                {
                    "group_kind": self.core.kind.name,
                    "status": "open",
                    "expires_at": {"$lte": self.core.now()},
                }
            )
            .to_list(limit)
        )
        count = 0
        for raw in raws:
            if await self.expire_vote(QuorumVote.model_validate(raw)):
                count += 1
        return count

    async def list_votes(self, actor: Actor, group_id: Any, purpose: str) -> list[VoteView]:
        self.core.require_read(actor)
        group, _ = await self.core.load(actor, group_id)
        raws = await (
            QuorumVote.get_pymongo_collection()
            .find({"group_id": group.id, "purpose": purpose})
            .sort("_id", -1)
            .to_list(100)
        )
        return [vote_view(QuorumVote.model_validate(r)) for r in raws]
