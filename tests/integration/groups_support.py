"""Helpers for the family, workspace and notification tests (not a test module)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.helpers import admin_user, services, unique_name, verified_user

BASES = {"family": "/api/v1/families", "workspace": "/api/v1/workspaces"}


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def person(client: httpx.AsyncClient, prefix: str = "u") -> dict[str, Any]:
    """A registered user with a verified e-mail, plus `id` and `username`."""
    body = await verified_user(client, unique_name(prefix))
    body["id"] = body["user"]["id"]
    body["username"] = body["user"]["username"]
    return body


async def create_group(
    client: httpx.AsyncClient, owner: dict[str, Any], kind: str = "family", name: str = "The Smiths"
) -> dict[str, Any]:
    response = await client.post(BASES[kind], json={"name": name}, headers=owner["headers"])
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def invite(
    client: httpx.AsyncClient,
    kind: str,
    group_id: str,
    admin: dict[str, Any],
    invitee: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    response = await client.post(
        f"{BASES[kind]}/{group_id}/invitations",
        json={"username": invitee["username"], **extra},
        headers=admin["headers"],
    )
    assert response.status_code in (200, 201), response.text
    return response.json()  # type: ignore[no-any-return]


async def join(
    client: httpx.AsyncClient,
    kind: str,
    group_id: str,
    admin: dict[str, Any],
    invitee: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    inv = await invite(client, kind, group_id, admin, invitee, **extra)
    response = await client.post(
        f"/api/v1/invitations/{inv['id']}/accept", headers=invitee["headers"]
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def site_admin(client: httpx.AsyncClient) -> dict[str, Any]:
    return await admin_user(client)


async def fund(
    client: httpx.AsyncClient, kind: str, group_id: str, amount: int, member: dict[str, Any]
) -> None:
    """Mint `amount` tokens into the group wallet."""
    wallet = await client.get(f"{BASES[kind]}/{group_id}/wallet", headers=member["headers"])
    assert wallet.status_code == 200, wallet.text
    adm = await site_admin(client)
    response = await client.post(
        "/api/v1/admin/wallet/mint",
        json={"to": {"accountId": wallet.json()["accountId"]}, "amount": amount, "reason": "funds"},
        headers={**adm["headers"], **key()},
    )
    assert response.status_code == 201, response.text


async def balance_of(client: httpx.AsyncClient, user: dict[str, Any]) -> int:
    response = await client.get("/api/v1/wallet", headers=user["headers"])
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


async def group_balance(
    client: httpx.AsyncClient, kind: str, group_id: str, member: dict[str, Any]
) -> int:
    response = await client.get(f"{BASES[kind]}/{group_id}/wallet", headers=member["headers"])
    assert response.status_code == 200, response.text
    return int(response.json()["balance"])


def shift_clock(client: httpx.AsyncClient, seconds: float) -> None:
    """Move the group managers' clock `seconds` ahead of real time (never sleep in tests)."""
    from datetime import timedelta

    from server.core.clock import utcnow

    svc = services(client)

    def later() -> Any:
        return utcnow() + timedelta(seconds=seconds)

    for manager in (svc.families, svc.workspaces, svc.notifications):
        manager.now = later


async def family_with(
    client: httpx.AsyncClient, members: int = 1, kind: str = "family"
) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """An admin, `members` plain members who joined, and the group id."""
    admin = await person(client, "adm")
    group = await create_group(client, admin, kind, name="Group " + unique_name(""))
    others = []
    for _ in range(members):
        p = await person(client, "mem")
        await join(client, kind, group["id"], admin, p)
        others.append(p)
    return admin, others, group["id"]
