"""The family agent acts through FamilyManager: right tool and args, permissions hold,
approvals pause/resume, a denial changes nothing, events reach the members' channels."""

from __future__ import annotations

import pytest

from agents.scripted import ScriptedLLMFactory, call, reply
from tests.agents_support import LiveEvents, decide, kinds, new_session, of, say, use_script
from tests.helpers import services
from tests.integration.groups_support import family_with, invite, person

pytestmark = pytest.mark.integration


async def _frozen(client, group_id) -> bool:
    group = await services(client).families.find_group(group_id)
    return bool(group.frozen)


async def test_router_picks_family_and_lists_pending_invitations(client):
    admin, _, fid = await family_with(client, members=0)
    invitee = await person(client, "kid")
    await invite(client, "family", fid, admin, invitee)
    factory = use_script(
        client,
        ScriptedLLMFactory(
            [
                call("family_invitations", {"status": "pending"}),
                reply(f"{invitee['username']} has not accepted yet."),
            ],
            per_agent={"router": [call("RouteChoice", {"agent": "family"})]},
        ),
    )
    sid = await new_session(client, admin)  # no fixed agent: the router decides
    events = await say(client, admin, sid, "who hasn't accepted the invite yet?")

    start = of(events, "message.start")[0]
    assert (start["agent"], start["routedBy"]) == ("family", "llm")
    end = of(events, "tool.end")[0]
    assert end["tool"] == "family_invitations" and end["status"] == "ok"
    assert invitee["username"] in end["result"] and '"status":"pending"' in end["result"]
    assert "family_freeze" in factory.default.bound_tools[-1]


async def test_a_members_agent_cannot_freeze_the_family_wallet(client):
    _admin, (member,), fid = await family_with(client, members=1)
    factory = use_script(
        client,
        ScriptedLLMFactory(
            [
                call("family_freeze", {"reason": "lost my card"}),
                reply("I could not freeze it: only admins can."),
            ]
        ),
    )
    sid = await new_session(client, member, agent="family")
    events = await say(client, member, sid, "freeze the family wallet")
    approval = of(events, "approval_required")[0]
    assert approval["tool"] == "family_freeze" and approval["args"] == {"reason": "lost my card"}

    resumed = await decide(client, member, sid, approval["approvalId"], True)
    end = of(resumed, "tool.end")[0]
    assert end["status"] == "error" and "FAMILY_ADMIN_REQUIRED" in end["result"]
    assert not await _frozen(client, fid)
    # The manager's refusal went back to the model as the tool result.
    tool_message = factory.default.calls[-1][-1]
    assert "FAMILY_ADMIN_REQUIRED" in tool_message.content


async def test_admin_freeze_after_approval_reaches_member_channel(client, redis):
    admin, (member,), fid = await family_with(client, members=1)
    use_script(
        client,
        ScriptedLLMFactory(
            [call("family_freeze", {"reason": "suspicious spending"}), reply("Frozen.")]
        ),
    )
    sid = await new_session(client, admin, agent="family")
    events = await say(client, admin, sid, "freeze the family wallet, suspicious spending")
    approval = of(events, "approval_required")[0]
    assert not await _frozen(client, fid)

    async with LiveEvents(redis, f"user:{member['id']}") as live:
        resumed = await decide(client, admin, sid, approval["approvalId"], True)
        assert of(resumed, "tool.end")[0]["status"] == "ok"
        event = await live.wait_for("notification.created")
    assert "frozen" in str(event["data"]).lower()
    assert await _frozen(client, fid)


async def test_denied_approval_changes_nothing(client):
    admin, _, fid = await family_with(client, members=1)
    factory = use_script(
        client,
        ScriptedLLMFactory([call("family_freeze", {"reason": "test run"}), reply("Not frozen.")]),
    )
    sid = await new_session(client, admin, agent="family")
    events = await say(client, admin, sid, "freeze the family wallet")
    approval = of(events, "approval_required")[0]

    resumed = await decide(client, admin, sid, approval["approvalId"], False)
    assert kinds(resumed) == ["message.start", "tool.start", "tool.end", "token", "message.end"]
    assert of(resumed, "tool.end")[0]["status"] == "denied"
    assert not await _frozen(client, fid)
    assert "DENIED" in factory.default.calls[-1][-1].content
    session = await client.get(f"/api/v1/chat/sessions/{sid}", headers=admin["headers"])
    assert session.json()["pendingApprovals"] == []


async def test_token_request_is_paid_after_approval(client):
    admin, (member,), fid = await family_with(client, members=1)
    from tests.integration.groups_support import balance_of, fund

    await fund(client, "family", fid, 500, admin)
    use_script(
        client,
        ScriptedLLMFactory(
            [
                call("family_token_request_create", {"amount": 50, "reason": "school trip"}),
                reply("Requested and paid."),
            ]
        ),
    )
    sid = await new_session(client, member, agent="family")
    events = await say(client, member, sid, "ask the family for 50 tokens for the school trip")
    approval = of(events, "approval_required")[0]
    assert approval["args"] == {"amount": 50, "reason": "school trip"}
    assert await balance_of(client, member) == 0

    resumed = await decide(client, member, sid, approval["approvalId"], True)
    assert of(resumed, "tool.end")[0]["status"] == "ok"
    assert await balance_of(client, member) == 50
