"""`/api/v1/auth/lockdown/*` (thin; rules in `LockdownManager`)."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from auth.account.schemas import AcceptedView
from auth.limits import auth_rate_limit
from auth.lockdown.manager import LockdownManager
from auth.lockdown.schemas import LockdownChangeRequest, LockdownTokenRequest, LockdownView
from auth.scopes import require_full_session
from server.core.actor import Actor


class LockdownController(Controller):
    path = "/api/v1/auth/lockdown"
    tags = ["auth"]
    guards = [auth_rate_limit]

    @get("/", summary="Lockdown state and trusted IPs/devices")
    async def status(self, actor: Actor, lockdown: LockdownManager) -> LockdownView:
        require_full_session(actor)
        return await lockdown.status(actor)

    @post("/request", status_code=HTTP_202_ACCEPTED, summary="Change lockdown (mails a link)")
    async def request_change(
        self, data: LockdownChangeRequest, actor: Actor, lockdown: LockdownManager
    ) -> AcceptedView:
        await lockdown.request_change(actor, data)
        return AcceptedView()

    @post("/confirm", status_code=HTTP_200_OK, summary="Apply a change (link token)")
    async def confirm(self, data: LockdownTokenRequest, lockdown: LockdownManager) -> LockdownView:
        return await lockdown.confirm(data)

    @post("/allow", status_code=HTTP_204_NO_CONTENT, summary="Allow a blocked login once")
    async def allow_once(self, data: LockdownTokenRequest, lockdown: LockdownManager) -> None:
        await lockdown.allow_once(data)

    @post("/trust", status_code=HTTP_204_NO_CONTENT, summary="Trust a blocked IP and device")
    async def trust(self, data: LockdownTokenRequest, lockdown: LockdownManager) -> None:
        await lockdown.trust(data)

    @delete("/devices/{device_id:str}", status_code=HTTP_204_NO_CONTENT)
    async def remove_device(self, device_id: str, actor: Actor, lockdown: LockdownManager) -> None:
        await lockdown.remove_device(actor, device_id)
