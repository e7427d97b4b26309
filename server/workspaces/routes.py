"""HTTP routes for workspaces: the shared group routes plus ownership transfer."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK

from server.core.actor import Actor
from server.groups.hooks import KindRules
from server.groups.manager import GroupManager
from server.groups.routes import group_controller
from server.groups.schemas import GroupView
from server.workspaces.manager import WorkspaceManager
from server.workspaces.schemas import TransferOwnership


def workspaces_as_groups(workspaces: NamedDependency[WorkspaceManager]) -> GroupManager[KindRules]:
    return workspaces


WorkspaceController = group_controller("workspace", "/api/v1/workspaces", workspaces_as_groups)


class WorkspaceExtrasController(Controller):
    path = "/api/v1/workspaces"
    tags = ["workspace"]

    @post("/{group_id:str}/transfer-ownership", status_code=HTTP_200_OK)
    async def transfer_ownership(
        self, group_id: str, data: TransferOwnership, actor: Actor, workspaces: WorkspaceManager
    ) -> GroupView:
        return await workspaces.extras.transfer_ownership(actor, group_id, data)


ROUTE_HANDLERS = [WorkspaceController, WorkspaceExtrasController]
