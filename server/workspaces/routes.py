"""HTTP routes for workspaces: the shared group routes plus ownership transfer."""

from __future__ import annotations

from litestar import Controller, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.status_codes import HTTP_200_OK

from server.core.actor import Actor
from server.groups.routes import group_controller
from server.groups.schemas import GroupView
from server.workspaces.manager import WorkspaceManager
from server.workspaces.schemas import TransferOwnership

WorkspaceController = group_controller("workspace", "/api/v1/workspaces", "workspaces")


def provide_workspaces(state: State) -> WorkspaceManager:
    return state["services"].workspaces  # type: ignore[no-any-return]


class WorkspaceExtrasController(Controller):
    path = "/api/v1/workspaces"
    tags = ["workspace"]
    dependencies = {"workspaces": Provide(provide_workspaces, sync_to_thread=False)}

    @post("/{group_id:str}/transfer-ownership", status_code=HTTP_200_OK)
    async def transfer_ownership(
        self, group_id: str, data: TransferOwnership, actor: Actor, workspaces: WorkspaceManager
    ) -> GroupView:
        return await workspaces.transfer_ownership(actor, group_id, data)


ROUTE_HANDLERS = [WorkspaceController, WorkspaceExtrasController]
