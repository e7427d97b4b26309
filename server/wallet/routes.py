"""HTTP routes of the wallet: thin; every rule lives in `WalletManager`."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.params import HeaderParameter, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from server.core.actor import Actor
from server.wallet.idempotency import KEY_HEADER, Outcome
from server.wallet.manager import WalletManager
from server.wallet.rewards import SIGNATURE_HEADER
from server.wallet.schemas import (
    AuditReport,
    FreezeRequest,
    MintRequest,
    RewardResponse,
    TransferPage,
    TransferRequest,
    TransferResponse,
    TransferView,
    WalletView,
)

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name=KEY_HEADER,
        required=False,
        description="Required on money-moving requests; same key + same body = same answer.",
    ),
]


def outcome_response(outcome: Outcome[Any], status: int = HTTP_201_CREATED) -> Response[Any]:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return Response(content=outcome.value, status_code=status, headers=headers)


class WalletController(Controller):
    path = "/api/v1/wallet"
    tags = ["wallet"]

    @get("", summary="The caller's wallet")
    async def my_wallet(self, actor: Actor, wallet: WalletManager) -> WalletView:
        return await wallet.my_wallet(actor)

    @post(
        "/transfers",
        status_code=HTTP_201_CREATED,
        summary="Send tokens to a user or wallet",
        response_headers=None,
    )
    async def transfer(
        self,
        data: TransferRequest,
        actor: Actor,
        wallet: WalletManager,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[TransferResponse]:
        return outcome_response(await wallet.transfer(actor, data, idempotency_key=idempotency_key))

    @get("/transfers", summary="The caller's transfers, newest first")
    async def list_transfers(
        self,
        actor: Actor,
        wallet: WalletManager,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Parameter(max_length=24)] = None,
    ) -> TransferPage:
        return await wallet.list_transfers(actor, limit=limit, cursor=cursor)

    @get("/transfers/{transfer_id:str}", summary="One of the caller's transfers")
    async def get_transfer(
        self, transfer_id: str, actor: Actor, wallet: WalletManager
    ) -> TransferView:
        return await wallet.get_transfer(actor, transfer_id)

    @post("/rewards", summary="Signed reward callback (HMAC-SHA256 over the raw body)")
    async def reward(
        self, request: Request[Any, Any, Any], wallet: WalletManager
    ) -> Response[RewardResponse]:
        body = await request.body()
        result, new = await wallet.reward(body, request.headers.get(SIGNATURE_HEADER))
        return Response(content=result, status_code=HTTP_201_CREATED if new else HTTP_200_OK)


class AdminWalletController(Controller):
    path = "/api/v1/admin/wallet"
    tags = ["wallet", "admin"]

    @post("/mint", status_code=HTTP_201_CREATED, summary="Mint tokens (admins)")
    async def mint(
        self,
        data: MintRequest,
        actor: Actor,
        wallet: WalletManager,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[TransferResponse]:
        return outcome_response(await wallet.mint(actor, data, idempotency_key=idempotency_key))

    @get("/audit", summary="Check the ledger invariant (admins)")
    async def audit(self, actor: Actor, wallet: WalletManager) -> AuditReport:
        return await wallet.audit(actor)

    @get("/accounts/{account_id:str}", summary="Any wallet (admins)")
    async def account(self, account_id: str, actor: Actor, wallet: WalletManager) -> WalletView:
        return await wallet.admin_account(actor, account_id)

    @post("/accounts/{account_id:str}/freeze", status_code=HTTP_200_OK, summary="Freeze")
    async def freeze(
        self, account_id: str, data: FreezeRequest, actor: Actor, wallet: WalletManager
    ) -> WalletView:
        return await wallet.admin_set_frozen(actor, account_id, frozen=True, reason=data.reason)

    @post("/accounts/{account_id:str}/unfreeze", status_code=HTTP_200_OK, summary="Unfreeze")
    async def unfreeze(self, account_id: str, actor: Actor, wallet: WalletManager) -> WalletView:
        return await wallet.admin_set_frozen(actor, account_id, frozen=False)
