"""HTTP routes shared by families and workspaces, built once per kind; and the invitee's
inbox (`/api/v1/invitations`). Thin: every rule lives in the managers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.di import Provide
from litestar.params import Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from server.core.actor import Actor
from server.core.paging import DEFAULT_LIMIT, Cursor, Limit, page_slice
from server.groups.hooks import KindRules
from server.groups.inbox import InvitationInbox
from server.groups.manager import GroupManager
from server.groups.schemas import (
    DecisionRequest,
    FreezeRequest,
    GroupCreate,
    GroupPage,
    GroupSpendRequest,
    GroupUpdate,
    GroupView,
    GroupWalletView,
    InvitationCreate,
    InvitationPage,
    InvitationView,
    MemberPage,
    MemberPermissionView,
    MemberView,
    RequestPage,
    RequestView,
    RoleChange,
    SpendResult,
    TokenRequestCreate,
    VoteCast,
    VoteOpen,
    VotePage,
    VoteView,
    WalletPermissionsUpdate,
)
from server.wallet.routes import IdempotencyKey
from server.wallet.schemas import TransferPage


def group_controller(
    kind: str, base: str, provide_groups: Callable[..., GroupManager[KindRules]]
) -> type[Controller]:
    """The routes every group kind has, under `base` (e.g. `/api/v1/families`);
    `provide_groups` picks this kind's manager out of the app's dependencies."""

    class GroupController(Controller):
        path = base
        tags = [kind]
        dependencies = {"groups": Provide(provide_groups, sync_to_thread=False)}

        @post("/", status_code=HTTP_201_CREATED)
        async def create_group(
            self, data: GroupCreate, actor: Actor, groups: GroupManager[KindRules]
        ) -> GroupView:
            return await groups.create(actor, data)

        @get("/")
        async def list_groups(
            self,
            actor: Actor,
            groups: GroupManager[KindRules],
            limit: Limit = DEFAULT_LIMIT,
            cursor: Cursor = None,
        ) -> GroupPage:
            items, next_cursor = page_slice(
                await groups.list_mine(actor), limit=limit, cursor=cursor
            )
            return GroupPage(items=items, next_cursor=next_cursor)

        @get("/{group_id:str}")
        async def get_group(
            self, group_id: str, actor: Actor, groups: GroupManager[KindRules]
        ) -> GroupView:
            return await groups.get(actor, group_id)

        @patch("/{group_id:str}")
        async def update_group(
            self, group_id: str, data: GroupUpdate, actor: Actor, groups: GroupManager[KindRules]
        ) -> GroupView:
            return await groups.update(actor, group_id, data)

        @delete("/{group_id:str}", status_code=HTTP_204_NO_CONTENT)
        async def delete_group(
            self, group_id: str, actor: Actor, groups: GroupManager[KindRules]
        ) -> None:
            await groups.delete(actor, group_id)

        # ---------------------------------------------------------------- members

        @get("/{group_id:str}/members")
        async def list_members(
            self,
            group_id: str,
            actor: Actor,
            groups: GroupManager[KindRules],
            limit: Limit = DEFAULT_LIMIT,
            cursor: Cursor = None,
        ) -> MemberPage:
            items, next_cursor = page_slice(
                await groups.list_members(actor, group_id),
                limit=limit,
                cursor=cursor,
                key=lambda m: m.user_id,
            )
            return MemberPage(items=items, next_cursor=next_cursor)

        @delete("/{group_id:str}/members/{user_id:str}", status_code=HTTP_204_NO_CONTENT)
        async def remove_member(
            self, group_id: str, user_id: str, actor: Actor, groups: GroupManager[KindRules]
        ) -> None:
            await groups.remove_member(actor, group_id, user_id)

        @put("/{group_id:str}/members/{user_id:str}/role")
        async def change_role(
            self,
            group_id: str,
            user_id: str,
            data: RoleChange,
            actor: Actor,
            groups: GroupManager[KindRules],
        ) -> MemberView:
            return await groups.change_role(actor, group_id, user_id, data)

        @post("/{group_id:str}/leave", status_code=HTTP_204_NO_CONTENT)
        async def leave(self, group_id: str, actor: Actor, groups: GroupManager[KindRules]) -> None:
            await groups.leave(actor, group_id)

        # ---------------------------------------------------------------- invitations

        @post("/{group_id:str}/invitations", status_code=HTTP_201_CREATED)
        async def invite(
            self,
            group_id: str,
            data: InvitationCreate,
            actor: Actor,
            groups: GroupManager[KindRules],
        ) -> Response[InvitationView]:
            view, created = await groups.invite(actor, group_id, data)
            return Response(view, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

        @get("/{group_id:str}/invitations")
        async def list_invitations(
            self,
            group_id: str,
            actor: Actor,
            groups: GroupManager[KindRules],
            status: str | None = None,
            limit: Limit = DEFAULT_LIMIT,
            cursor: Cursor = None,
        ) -> InvitationPage:
            items, next_cursor = page_slice(
                await groups.list_invitations(actor, group_id, status), limit=limit, cursor=cursor
            )
            return InvitationPage(items=items, next_cursor=next_cursor)

        @delete("/{group_id:str}/invitations/{invitation_id:str}", status_code=HTTP_204_NO_CONTENT)
        async def cancel_invitation(
            self, group_id: str, invitation_id: str, actor: Actor, groups: GroupManager[KindRules]
        ) -> None:
            await groups.cancel_invitation(actor, group_id, invitation_id)

        @post("/{group_id:str}/invitations/{invitation_id:str}/resend", status_code=HTTP_200_OK)
        async def resend_invitation(
            self, group_id: str, invitation_id: str, actor: Actor, groups: GroupManager[KindRules]
        ) -> InvitationView:
            return await groups.resend_invitation(actor, group_id, invitation_id)

        # ---------------------------------------------------------------- wallet

        @get("/{group_id:str}/wallet")
        async def get_wallet(
            self, group_id: str, actor: Actor, groups: GroupManager[KindRules]
        ) -> GroupWalletView:
            return await groups.wallet(actor, group_id)

        @put("/{group_id:str}/wallet/permissions/{user_id:str}")
        async def set_permissions(
            self,
            group_id: str,
            user_id: str,
            data: WalletPermissionsUpdate,
            actor: Actor,
            groups: GroupManager[KindRules],
        ) -> MemberPermissionView:
            return await groups.set_permissions(actor, group_id, user_id, data)

        @post("/{group_id:str}/wallet/freeze", status_code=HTTP_200_OK)
        async def freeze(
            self, group_id: str, data: FreezeRequest, actor: Actor, groups: GroupManager[KindRules]
        ) -> GroupWalletView:
            return await groups.freeze(actor, group_id, data)

        @post("/{group_id:str}/wallet/unfreeze", status_code=HTTP_200_OK)
        async def unfreeze(
            self, group_id: str, actor: Actor, groups: GroupManager[KindRules]
        ) -> GroupWalletView:
            return await groups.unfreeze(actor, group_id)

        @post("/{group_id:str}/wallet/transfers", status_code=HTTP_201_CREATED)
        async def spend(
            self,
            group_id: str,
            data: GroupSpendRequest,
            actor: Actor,
            groups: GroupManager[KindRules],
            idempotency_key: IdempotencyKey = None,
        ) -> SpendResult:
            result, _ = await groups.spend(actor, group_id, data, idempotency_key=idempotency_key)
            return result

        @get("/{group_id:str}/wallet/transfers")
        async def list_transfers(
            self,
            group_id: str,
            actor: Actor,
            groups: GroupManager[KindRules],
            limit: int = Parameter(default=50, ge=1, le=200),
            cursor: str | None = None,
        ) -> TransferPage:
            return await groups.list_transfers(actor, group_id, limit=limit, cursor=cursor)

        # ---------------------------------------------------------------- token requests

        @post("/{group_id:str}/token-requests", status_code=HTTP_201_CREATED)
        async def create_request(
            self,
            group_id: str,
            data: TokenRequestCreate,
            actor: Actor,
            groups: GroupManager[KindRules],
        ) -> RequestView:
            return await groups.create_token_request(actor, group_id, data)

        @get("/{group_id:str}/token-requests")
        async def list_requests(
            self,
            group_id: str,
            actor: Actor,
            groups: GroupManager[KindRules],
            status: str | None = None,
            limit: Limit = DEFAULT_LIMIT,
            cursor: Cursor = None,
        ) -> RequestPage:
            items, next_cursor = page_slice(
                await groups.list_requests(actor, group_id, status), limit=limit, cursor=cursor
            )
            return RequestPage(items=items, next_cursor=next_cursor)

        @post("/{group_id:str}/token-requests/{request_id:str}/approve", status_code=HTTP_200_OK)
        async def approve_request(
            self,
            group_id: str,
            request_id: str,
            actor: Actor,
            groups: GroupManager[KindRules],
            data: DecisionRequest | None = None,
        ) -> RequestView:
            return await groups.approve_request(
                actor, group_id, request_id, data or DecisionRequest()
            )

        @post("/{group_id:str}/token-requests/{request_id:str}/deny", status_code=HTTP_200_OK)
        async def deny_request(
            self,
            group_id: str,
            request_id: str,
            actor: Actor,
            groups: GroupManager[KindRules],
            data: DecisionRequest | None = None,
        ) -> RequestView:
            return await groups.deny_request(actor, group_id, request_id, data or DecisionRequest())

        # ---------------------------------------------------------------- emergency unfreeze

        @post("/{group_id:str}/emergency-unfreeze", status_code=HTTP_201_CREATED)
        async def open_emergency_unfreeze(
            self, group_id: str, data: VoteOpen, actor: Actor, groups: GroupManager[KindRules]
        ) -> VoteView:
            return await groups.open_emergency_unfreeze(actor, group_id, data)

        @get("/{group_id:str}/emergency-unfreeze")
        async def list_emergency_unfreeze(
            self,
            group_id: str,
            actor: Actor,
            groups: GroupManager[KindRules],
            limit: Limit = DEFAULT_LIMIT,
            cursor: Cursor = None,
        ) -> VotePage:
            votes = await groups.list_votes(actor, group_id, "emergency_unfreeze")
            items, next_cursor = page_slice(votes, limit=limit, cursor=cursor)
            return VotePage(items=items, next_cursor=next_cursor)

        @post("/{group_id:str}/emergency-unfreeze/{vote_id:str}/vote", status_code=HTTP_200_OK)
        async def vote_emergency_unfreeze(
            self,
            group_id: str,
            vote_id: str,
            data: VoteCast,
            actor: Actor,
            groups: GroupManager[KindRules],
        ) -> VoteView:
            return await groups.vote_emergency_unfreeze(actor, group_id, vote_id, data)

    GroupController.__name__ = f"{kind.capitalize()}Controller"
    GroupController.__qualname__ = GroupController.__name__
    return GroupController


class InvitationInboxController(Controller):
    """Invitations I received, to families and workspaces alike."""

    path = "/api/v1/invitations"
    tags = ["invitations"]

    @get("/")
    async def received(
        self,
        actor: Actor,
        inbox: InvitationInbox,
        status: str | None = "pending",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> InvitationPage:
        items, next_cursor = page_slice(
            await inbox.received(actor, status), limit=limit, cursor=cursor
        )
        return InvitationPage(items=items, next_cursor=next_cursor)

    @post("/{invitation_id:str}/accept", status_code=HTTP_200_OK)
    async def accept(self, invitation_id: str, actor: Actor, inbox: InvitationInbox) -> MemberView:
        return await inbox.accept(actor, invitation_id)

    @post("/{invitation_id:str}/decline", status_code=HTTP_200_OK)
    async def decline(
        self, invitation_id: str, actor: Actor, inbox: InvitationInbox
    ) -> InvitationView:
        return await inbox.decline(actor, invitation_id)


__all__: list[Any] = ["InvitationInboxController", "group_controller"]
