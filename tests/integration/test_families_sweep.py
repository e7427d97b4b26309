"""The SAQ sweep (`server.jobs.sweep_groups`): invitations, requests and votes past their
time are marked expired (history kept) with their events, in families and workspaces."""

from __future__ import annotations

import json

import pytest

from server import jobs
from tests.helpers import services
from tests.integration.groups_support import family_with, fund, invite, person, shift_clock

pytestmark = pytest.mark.integration


async def test_sweep_expires_invitations_requests_and_votes(client):
    admin, [kid, other], fid = await family_with(client, 2)
    owner, _, wid = await family_with(client, 0, kind="workspace")
    await fund(client, "family", fid, 1000, admin)
    await invite(client, "family", fid, admin, await person(client))
    await invite(client, "workspace", wid, owner, await person(client))
    req = await client.post(
        f"/api/v1/families/{fid}/token-requests",
        json={"amount": 500, "reason": "summer camp"},
        headers=kid["headers"],
    )
    await client.post(
        f"/api/v1/families/{fid}/wallet/freeze", json={"reason": "lost"}, headers=admin["headers"]
    )
    vote = await client.post(
        f"/api/v1/families/{fid}/emergency-unfreeze",
        json={"reason": "please unfreeze"},
        headers=other["headers"],
    )
    assert req.status_code == vote.status_code == 201
    svc = services(client)
    nothing = await jobs.sweep_groups({"services": svc})
    assert nothing["families"] == {"invitations": 0, "requests": 0, "votes": 0}
    _, before = await svc.bus.position(f"family:{fid}")
    shift_clock(client, 8 * 24 * 3600)
    swept = await jobs.sweep_groups({"services": svc})
    assert swept["families"] == {"invitations": 1, "requests": 1, "votes": 1}
    assert swept["workspaces"]["invitations"] == 1
    types = [json.loads(e)["type"] for e in await svc.bus.read_since(f"family:{fid}", before)]
    assert sorted(types) == [
        "emergency_unfreeze.expired",
        "family.invitation_expired",
        "token_request.expired",
    ]
    again = await jobs.sweep_groups({"services": svc})
    assert again["families"] == {"invitations": 0, "requests": 0, "votes": 0}
    requests = await client.get(f"/api/v1/families/{fid}/token-requests", headers=kid["headers"])
    assert [r["status"] for r in requests.json()["items"]] == ["expired"]
    notes = await client.get("/api/v1/notifications", headers=kid["headers"])
    assert "token_request.expired" in [n["type"] for n in notes.json()["items"]]
