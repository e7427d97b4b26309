"""The workspace, commerce and security agents act through their managers."""

from __future__ import annotations

import pytest

from agents.scripted import ScriptedLLMFactory, call, reply
from tests.agents_support import decide, new_session, of, say, use_script
from tests.helpers import PASSWORD, services
from tests.integration.groups_support import family_with, fund, group_balance
from tests.integration.shop_support import create_item, inventory
from tests.integration.wallet_support import admin, balance, mint, verified_user

pytestmark = pytest.mark.integration


async def _role(client, workspace_id, user) -> str:
    members = await services(client).workspaces.members_of(
        services(client).workspaces.oid(workspace_id)
    )
    return next(m.role for m in members if str(m.user_id) == user["id"])


async def test_workspace_owner_changes_a_role_after_approval(client):
    owner, (viewer,), wid = await family_with(client, members=1, kind="workspace")
    use_script(
        client,
        ScriptedLLMFactory(
            [
                call("workspace_members"),
                call("workspace_change_role", {"username": viewer["username"], "role": "editor"}),
                reply("Done: they are an editor now."),
            ]
        ),
    )
    sid = await new_session(client, owner, agent="workspace")
    events = await say(client, owner, sid, f"make {viewer['username']} an editor")
    assert of(events, "tool.end")[0]["tool"] == "workspace_members"
    assert viewer["username"] in of(events, "tool.end")[0]["result"]
    approval = of(events, "approval_required")[0]
    assert approval["args"] == {"username": viewer["username"], "role": "editor"}
    assert await _role(client, wid, viewer) == "viewer"

    resumed = await decide(client, owner, sid, approval["approvalId"], True)
    assert of(resumed, "tool.end")[0]["status"] == "ok"
    assert await _role(client, wid, viewer) == "editor"


async def test_a_viewers_agent_cannot_change_roles(client):
    owner, (viewer,), wid = await family_with(client, members=1, kind="workspace")
    use_script(
        client,
        ScriptedLLMFactory(
            [
                call("workspace_change_role", {"username": owner["username"], "role": "viewer"}),
                reply("I can't."),
            ]
        ),
    )
    sid = await new_session(client, viewer, agent="workspace")
    events = await say(client, viewer, sid, "demote the owner")
    approval = of(events, "approval_required")[0]
    resumed = await decide(client, viewer, sid, approval["approvalId"], True)
    end = of(resumed, "tool.end")[0]
    assert end["status"] == "error" and "WORKSPACE_ADMIN_REQUIRED" in end["result"]
    assert await _role(client, wid, owner) == "owner"


async def test_commerce_agent_buys_the_ocean_theme_with_the_team_wallet(client):
    boss = await admin(client)
    item = await create_item(client, boss, name="Ocean theme", slug="ocean-theme", price=30)
    owner, _, wid = await family_with(client, members=0, kind="workspace")
    await fund(client, "workspace", wid, 100, owner)
    use_script(
        client,
        ScriptedLLMFactory(
            [
                call("shop_search", {"query": "ocean theme"}),
                call("shop_buy", {"item": "ocean theme", "pay_with": "workspace"}),
                reply("Bought the Ocean theme with the team wallet."),
            ],
            per_agent={"router": [call("RouteChoice", {"agent": "commerce"})]},
        ),
    )
    sid = await new_session(client, owner)
    events = await say(client, owner, sid, "buy the ocean theme with the team wallet")
    assert of(events, "message.start")[0]["agent"] == "commerce"
    assert item["id"] in of(events, "tool.end")[0]["result"]
    approval = of(events, "approval_required")[0]
    assert approval["tool"] == "shop_buy"
    assert approval["args"] == {"item": "ocean theme", "rent": False, "pay_with": "workspace"}

    resumed = await decide(client, owner, sid, approval["approvalId"], True)
    assert of(resumed, "tool.end")[0]["status"] == "ok"
    assert await group_balance(client, "workspace", wid, owner) == 70
    assert [e["item"]["id"] for e in await inventory(client, owner)] == [item["id"]]


async def test_commerce_purchase_denied_spends_nothing(client):
    boss = await admin(client)
    await create_item(client, boss, name="Forest theme", slug="forest-theme", price=10)
    buyer = await verified_user(client)
    await mint(client, boss, buyer["user"]["username"], 50)
    use_script(
        client,
        ScriptedLLMFactory([call("shop_buy", {"item": "forest-theme"}), reply("Cancelled.")]),
    )
    sid = await new_session(client, buyer, agent="commerce")
    events = await say(client, buyer, sid, "buy the forest theme")
    resumed = await decide(
        client, buyer, sid, of(events, "approval_required")[0]["approvalId"], False
    )
    assert of(resumed, "tool.end")[0]["status"] == "denied"
    assert await balance(client, buyer) == 50
    assert await inventory(client, buyer) == []


async def test_security_agent_reports_sessions_2fa_and_activity_and_revokes_one(client):
    user = await verified_user(client)
    login = await client.post(
        "/api/v1/auth/login", json={"login": user["user"]["username"], "password": PASSWORD}
    )
    assert login.status_code == 200, login.text
    sessions = await client.get("/api/v1/auth/sessions", headers=user["headers"])
    other = next(s for s in sessions.json()["items"] if not s["current"])
    use_script(
        client,
        ScriptedLLMFactory(
            [
                call("security_sessions"),
                call("security_two_factor"),
                call("security_passkeys"),
                call("security_recent_activity", {"limit": 5}),
                call("security_revoke_session", {"session_id": other["id"]}),
                reply("Signed out the other device."),
            ]
        ),
    )
    sid = await new_session(client, user, agent="security")
    events = await say(client, user, sid, "am I secure? sign out my other device")
    results = {e["tool"]: e for e in of(events, "tool.end")}
    assert results["security_sessions"]["status"] == "ok"
    assert other["id"] in results["security_sessions"]["result"]
    assert '"current":true' in results["security_sessions"]["result"]
    assert '"enabled":false' in results["security_two_factor"]["result"]
    assert results["security_passkeys"] == {**results["security_passkeys"], "status": "ok"}
    assert results["security_passkeys"]["result"] == "[]"
    assert "login" in results["security_recent_activity"]["result"]
    approval = of(events, "approval_required")[0]
    assert approval["args"] == {"session_id": other["id"]}

    resumed = await decide(client, user, sid, approval["approvalId"], True)
    assert of(resumed, "tool.end")[0]["status"] == "ok"
    after = await client.get("/api/v1/auth/sessions", headers=user["headers"])
    assert [s["id"] for s in after.json()["items"]] == [
        s["id"] for s in sessions.json()["items"] if s["current"]
    ]
