"""The access matrix for group routes (not a test module).

Every route under `/api/v1/{families|workspaces}/{group_id}` must have a rule here: who may
call it (`member`, `admin`, `owner`) and a valid body. The tests walk the app's route table,
so a new route without a rule fails until someone decides who may call it.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.integration.groups_support import BASES, family_with, person

ANY_ID = "0123456789abcdef01234567"

SHARED: dict[tuple[str, str], tuple[str, Any]] = {
    ("GET", ""): ("member", None),
    ("PATCH", ""): ("admin", {"name": "Renamed group"}),
    ("GET", "/members"): ("member", None),
    ("DELETE", "/members/{user_id:str}"): ("admin", None),
    ("PUT", "/members/{user_id:str}/role"): ("admin", {"role": "admin"}),
    ("POST", "/leave"): ("member", None),
    ("POST", "/invitations"): ("admin", {"username": "someone"}),
    ("GET", "/invitations"): ("admin", None),
    ("DELETE", "/invitations/{invitation_id:str}"): ("admin", None),
    ("POST", "/invitations/{invitation_id:str}/resend"): ("admin", None),
    ("GET", "/wallet"): ("member", None),
    ("PUT", "/wallet/permissions/{user_id:str}"): ("admin", {"canSpend": True}),
    ("POST", "/wallet/freeze"): ("admin", {"reason": "lost card"}),
    ("POST", "/wallet/unfreeze"): ("admin", None),
    ("POST", "/wallet/transfers"): ("member", {"to": {"username": "x"}, "amount": 1}),
    ("GET", "/wallet/transfers"): ("member", None),
    ("POST", "/token-requests"): ("member", {"amount": 1, "reason": "a reason"}),
    ("GET", "/token-requests"): ("member", None),
    ("POST", "/token-requests/{request_id:str}/approve"): ("admin", None),
    ("POST", "/token-requests/{request_id:str}/deny"): ("admin", None),
    ("POST", "/emergency-unfreeze"): ("member", {"reason": "need it now"}),
    ("GET", "/emergency-unfreeze"): ("member", None),
    ("POST", "/emergency-unfreeze/{vote_id:str}/vote"): ("member", {"approve": True}),
}

RULES: dict[str, dict[tuple[str, str], tuple[str, Any]]] = {
    "family": {
        **SHARED,
        ("DELETE", ""): ("admin", None),
        ("GET", "/relationships"): ("member", None),
        ("PUT", "/relationships/{user_id:str}"): ("admin", {"relationship": "sibling"}),
        ("PUT", "/backup-admins/{user_id:str}"): ("admin", None),
        ("DELETE", "/backup-admins/{user_id:str}"): ("admin", None),
        ("POST", "/recovery"): ("member", None),
        ("POST", "/recovery/{vote_id:str}/vote"): ("member", {"approve": True}),
    },
    "workspace": {
        **SHARED,
        ("DELETE", ""): ("owner", None),
        ("POST", "/transfer-ownership"): ("owner", {"userId": ANY_ID}),
    },
}


def group_routes(app: Any, kind: str) -> set[tuple[str, str]]:
    """(method, path after `{base}/{group_id:str}`) for every route of one group."""
    prefix = BASES[kind] + "/{group_id:str}"
    found = set()
    for route in app.routes:
        if route.path != prefix and not route.path.startswith(prefix + "/"):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                if method not in ("OPTIONS", "HEAD"):
                    found.add((method, route.path[len(prefix) :]))
    return found


def concrete(kind: str, group_id: str, suffix: str, user_id: str) -> str:
    path = f"{BASES[kind]}/{group_id}{suffix}"
    path = path.replace("{user_id:str}", user_id)
    for name in ("invitation_id", "request_id", "vote_id"):
        path = path.replace("{" + name + ":str}", ANY_ID)
    return path


async def run_matrix(client: httpx.AsyncClient, kind: str) -> int:
    """Check every route; returns how many calls were made."""
    routes = group_routes(client.app, kind)  # type: ignore[attr-defined]
    rules = RULES[kind]
    missing = routes - set(rules)
    assert not missing, f"routes without an access rule: {sorted(missing)}"
    stale = set(rules) - routes
    assert not stale, f"rules for routes that do not exist: {sorted(stale)}"
    admin, [member], gid = await family_with(client, 1, kind=kind)
    stranger = await person(client, "out")
    calls = 0
    for (method, suffix), (level, body) in sorted(rules.items()):
        path = concrete(kind, gid, suffix, admin["id"])
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        kwargs: dict[str, Any] = {"json": body} if body is not None else {}
        as_stranger = await client.request(
            method, path, headers={**stranger["headers"], **headers}, **kwargs
        )
        calls += 1
        assert as_stranger.status_code == 404, (method, suffix, as_stranger.text)
        if level in ("admin", "owner"):
            as_member = await client.request(
                method, path, headers={**member["headers"], **headers}, **kwargs
            )
            calls += 1
            assert as_member.status_code == 403, (method, suffix, as_member.text)
        elif method == "GET":
            as_member = await client.request(method, path, headers=member["headers"])
            calls += 1
            assert as_member.status_code == 200, (method, suffix, as_member.text)
    # Nothing the refused calls tried happened.
    group = await client.get(f"{BASES[kind]}/{gid}", headers=admin["headers"])
    assert group.status_code == 200 and group.json()["memberCount"] == 2
    assert group.json()["name"] != "Renamed group" and not group.json()["frozen"]
    return calls
