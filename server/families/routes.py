"""HTTP routes for families: the shared group routes plus relationships, backup admins and
recovery. Thin: every rule lives in `FamilyExtras` and the shared group collaborators."""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from server.core.actor import Actor
from server.core.paging import DEFAULT_LIMIT, Cursor, Limit, page_slice
from server.families.manager import FamilyManager
from server.families.schemas import (
    RecoveryOpen,
    RelationshipPage,
    RelationshipSet,
    RelationshipView,
)
from server.groups.hooks import KindRules
from server.groups.manager import GroupManager
from server.groups.routes import group_controller
from server.groups.schemas import MemberView, RecoveryResult, VoteCast, VoteView


def families_as_groups(families: NamedDependency[FamilyManager]) -> GroupManager[KindRules]:
    return families


FamilyController = group_controller("family", "/api/v1/families", families_as_groups)


class FamilyExtrasController(Controller):
    path = "/api/v1/families"
    tags = ["family"]

    @get("/{group_id:str}/relationships")
    async def relationships(
        self,
        group_id: str,
        actor: Actor,
        families: FamilyManager,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> RelationshipPage:
        items, next_cursor = page_slice(
            await families.extras.relationships(actor, group_id),
            limit=limit,
            cursor=cursor,
            key=lambda r: f"{r.user_id}:{r.related_user_id}",
        )
        return RelationshipPage(items=items, next_cursor=next_cursor)

    @put("/{group_id:str}/relationships/{user_id:str}")
    async def set_relationship(
        self,
        group_id: str,
        user_id: str,
        data: RelationshipSet,
        actor: Actor,
        families: FamilyManager,
    ) -> RelationshipView:
        return await families.extras.set_relationship(actor, group_id, user_id, data)

    @put("/{group_id:str}/backup-admins/{user_id:str}")
    async def set_backup_admin(
        self, group_id: str, user_id: str, actor: Actor, families: FamilyManager
    ) -> MemberView:
        return await families.extras.set_backup_admin(actor, group_id, user_id)

    @delete("/{group_id:str}/backup-admins/{user_id:str}", status_code=HTTP_204_NO_CONTENT)
    async def remove_backup_admin(
        self, group_id: str, user_id: str, actor: Actor, families: FamilyManager
    ) -> None:
        await families.extras.remove_backup_admin(actor, group_id, user_id)

    @post("/{group_id:str}/recovery", status_code=HTTP_200_OK)
    async def recover(
        self,
        group_id: str,
        actor: Actor,
        families: FamilyManager,
        data: RecoveryOpen | None = None,
    ) -> RecoveryResult:
        return await families.extras.recover(actor, group_id, data)

    @post("/{group_id:str}/recovery/{vote_id:str}/vote", status_code=HTTP_200_OK)
    async def vote_recovery(
        self, group_id: str, vote_id: str, data: VoteCast, actor: Actor, families: FamilyManager
    ) -> VoteView:
        return await families.extras.vote_recovery(actor, group_id, vote_id, data)


ROUTE_HANDLERS = [FamilyController, FamilyExtrasController]
