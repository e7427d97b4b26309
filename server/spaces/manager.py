"""Spaces: which space an actor may read, write or delete in, decided from live data.

Access is computed on every call from the membership collection (never cached), so leaving
or being removed from a family or workspace ends access to its space at once. Spaces are
created with their owner (a user-created hook, a group-created hook) and, for data that
predates them, lazily on first use and by the `spaces backfill` command.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from auth.documents import User
from auth.scopes import require_scope
from server.core.actor import Actor
from server.core.channels import group_channel, user_channel
from server.core.clock import utcnow
from server.core.errors import Forbidden, NotFound
from server.families.documents import Family
from server.groups.documents import Membership
from server.spaces.documents import Space, SpaceKind
from server.spaces.schemas import SpaceView
from server.workspaces.documents import Workspace

# Roles that may write in a group's space, and the roles that may delete anyone's note.
WRITE_ROLES: dict[str, frozenset[str]] = {
    "family": frozenset({"admin", "member"}),
    "workspace": frozenset({"owner", "admin", "editor"}),
}
DELETE_ANY_ROLES: dict[str, frozenset[str]] = {
    "family": frozenset({"admin"}),
    "workspace": frozenset({"owner", "admin"}),
}
GROUP_DOCUMENTS: dict[str, Any] = {"family": Family, "workspace": Workspace}


@dataclass(frozen=True, slots=True)
class SpaceAccess:
    """What one actor may do in one space, at the moment it was computed."""

    space: Space
    user_id: ObjectId
    role: str
    can_write: bool
    can_delete_any: bool

    @property
    def space_id(self) -> ObjectId:
        assert self.space.id is not None
        return self.space.id

    def may_delete(self, author_id: ObjectId | None) -> bool:
        """Personal: the owner. Family: the author or an admin. Workspace: an editor their
        own notes, an admin or the owner any note; a viewer nothing."""
        if self.can_delete_any:
            return True
        return self.can_write and author_id == self.user_id

    def require_write(self) -> None:
        if not self.can_write:
            raise Forbidden("You can read this space but not write in it.", code="SPACE_READ_ONLY")


def space_not_found() -> NotFound:
    return NotFound("No such space.", code="SPACE_NOT_FOUND")


def space_channel(space: Space) -> str:
    """A space's events go to its owner's channel: `user:`, `family:` or `workspace:`."""
    if space.kind == "personal":
        return user_channel(space.owner_id)
    return group_channel(space.kind, space.owner_id)


IDENTITY_CACHE_SIZE = 4096


class SpaceManager:
    def __init__(self, *, now: Callable[[], datetime] = utcnow) -> None:
        self.now = now
        # id -> Space, for `identity`: a space's kind and owner never change, so this needs
        # no expiry; its counters go stale, which is why only rights and channels use it.
        self._identities: OrderedDict[ObjectId, Space] = OrderedDict()

    # ------------------------------------------------------------------ creation

    async def ensure(
        self,
        kind: SpaceKind,
        owner_id: Any,
        name: str = "",
        session: AsyncClientSession | None = None,
    ) -> Space:
        """The owner's space, created if missing (an idempotent upsert on the unique key)."""
        raw = await Space.get_pymongo_collection().find_one_and_update(
            {"kind": kind, "owner_id": ObjectId(str(owner_id))},
            {
                "$setOnInsert": {
                    "name": name,
                    "note_count": 0,
                    "bytes_used": 0,
                    "created_at": self.now(),
                }
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        return Space.model_validate(raw)

    async def on_user_created(self, user: User, session: AsyncClientSession) -> None:
        """Registration hook: the personal space is created in the same transaction."""
        await self.ensure("personal", user.id, "Personal", session=session)

    async def on_group_created(self, kind: str, group: Any, session: AsyncClientSession) -> None:
        """Group-created hook: a family's or workspace's space is created with it."""
        await self.ensure(kind, group.id, group.name, session=session)  # type: ignore[arg-type]

    async def backfill(self) -> dict[str, int]:
        """Create the missing spaces of existing users, families and workspaces (a migration)."""
        created = {"personal": 0, "family": 0, "workspace": 0}
        collection = Space.get_pymongo_collection()
        sources: list[tuple[SpaceKind, Any, dict[str, Any]]] = [
            ("personal", User, {}),
            ("family", Family, {"deleted_at": None}),
            ("workspace", Workspace, {"deleted_at": None}),
        ]
        for kind, document, query in sources:
            have = {d["owner_id"] async for d in collection.find({"kind": kind}, {"owner_id": 1})}
            async for raw in document.get_pymongo_collection().find(
                query, {"_id": 1, "name": 1, "username": 1}
            ):
                if raw["_id"] in have:
                    continue
                await self.ensure(kind, raw["_id"], raw.get("name") or "Personal")
                created[kind] += 1
        return created

    # ------------------------------------------------------------------ access

    async def personal(self, actor: Actor) -> Space:
        return await self.ensure("personal", actor.user_id, "Personal")

    async def find(self, space_id: Any) -> Space | None:
        if isinstance(space_id, str) and not ObjectId.is_valid(space_id):
            return None
        raw = await Space.get_pymongo_collection().find_one({"_id": ObjectId(str(space_id))})
        return Space.model_validate(raw) if raw else None

    async def identity(self, space_id: ObjectId) -> Space | None:
        """The space for deciding rights and its channel (kind, owner), from a small LRU:
        reading a note costs no space query. Membership itself is never cached."""
        space = self._identities.get(space_id)
        if space is not None:
            self._identities.move_to_end(space_id)
            return space
        space = await self.find(space_id)
        if space is not None:
            self._identities[space_id] = space
            if len(self._identities) > IDENTITY_CACHE_SIZE:
                self._identities.popitem(last=False)
        return space

    async def access_to(self, actor: Actor, space: Space) -> SpaceAccess | None:
        """The actor's rights in `space`, or None when they may not even read it."""
        if space.kind == "personal":
            if space.owner_id != actor.user_id:
                return None
            return SpaceAccess(space, actor.user_id, "owner", True, True)
        member = await Membership.get_pymongo_collection().find_one(
            {"group_kind": space.kind, "group_id": space.owner_id, "user_id": actor.user_id},
            {"role": 1},
        )
        if member is None:
            return None
        role = str(member["role"])
        return SpaceAccess(
            space,
            actor.user_id,
            role,
            role in WRITE_ROLES[space.kind],
            role in DELETE_ANY_ROLES[space.kind],
        )

    async def access(self, actor: Actor, space_id: Any) -> SpaceAccess:
        """404 `SPACE_NOT_FOUND` unless the actor may read the space (no existence leak)."""
        space = await self.find(space_id)
        found = await self.access_to(actor, space) if space is not None else None
        if found is None:
            raise space_not_found()
        return found

    async def resolve(self, actor: Actor, space_id: str | None) -> SpaceAccess:
        """`space_id`, or the actor's personal space when none is named."""
        if space_id is None or space_id in ("", "personal"):
            space = await self.personal(actor)
            access = await self.access_to(actor, space)
            assert access is not None
            return access
        return await self.access(actor, space_id)

    async def readable(self, actor: Actor) -> list[SpaceAccess]:
        """Every space the actor can read right now (personal first, then groups)."""
        found = [await self.resolve(actor, None)]
        async for m in Membership.get_pymongo_collection().find(
            {"user_id": actor.user_id}, {"group_kind": 1, "group_id": 1, "role": 1}
        ):
            kind = m["group_kind"]
            if kind not in GROUP_DOCUMENTS:
                continue
            group = (
                await GROUP_DOCUMENTS[kind]
                .get_pymongo_collection()
                .find_one({"_id": m["group_id"], "deleted_at": None}, {"name": 1})
            )
            if group is None:
                continue
            space = await self.ensure(kind, m["group_id"], group.get("name", ""))
            role = str(m["role"])
            found.append(
                SpaceAccess(
                    space,
                    actor.user_id,
                    role,
                    role in WRITE_ROLES[kind],
                    role in DELETE_ANY_ROLES[kind],
                )
            )
        return found

    # ------------------------------------------------------------------ views

    @staticmethod
    def view(access: SpaceAccess) -> SpaceView:
        s = access.space
        return SpaceView(
            id=str(s.id),
            kind=s.kind,
            owner_id=str(s.owner_id),
            name=s.name,
            role=access.role,
            can_write=access.can_write,
            can_delete_any=access.can_delete_any,
            note_count=s.note_count,
            bytes_used=s.bytes_used,
            channel=space_channel(s),
            created_at=s.created_at,
        )

    async def list_mine(self, actor: Actor) -> list[SpaceView]:
        require_scope(actor, "notes:read")
        return [self.view(a) for a in await self.readable(actor)]

    async def get(self, actor: Actor, space_id: str) -> SpaceView:
        require_scope(actor, "notes:read")
        return self.view(await self.resolve(actor, space_id))
