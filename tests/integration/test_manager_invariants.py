"""Managers enforce the limits their wire schemas state, whoever calls them.

msgspec checks `Meta` limits only when it decodes an HTTP body, so before this the agent
tool path could store what the HTTP API refused.
"""

from __future__ import annotations

import time

import pytest
from bson import ObjectId

from agents.tools.registry import REGISTRY, ToolContext
from auth.api_tokens.schemas import ApiTokenCreate
from server.core.actor import Actor
from server.core.errors import DomainError, Forbidden
from server.groups.documents import GroupRequest
from server.groups.schemas import TokenRequestCreate
from tests.helpers import services
from tests.integration.groups_support import family_with, person

pytestmark = pytest.mark.integration

HUGE = 10**15  # over the wire schema's 10^12


def _actor(user: dict, channel: str = "agent") -> Actor:
    return Actor(
        user_id=ObjectId(user["id"]),
        username=user["username"],
        channel=channel,  # type: ignore[arg-type]
    )


async def _stored_requests(fid: str) -> int:
    return await GroupRequest.get_pymongo_collection().count_documents({"group_id": ObjectId(fid)})


async def test_huge_token_request_through_the_agent_tool_is_refused_and_nothing_stored(client):
    """Regression: `family_token_request_create` stored a 10^15 request as pending while
    HTTP answered 422 (the tool's own pydantic model had no upper bound and the manager
    trusted the Struct it was handed)."""
    _admin, [kid], fid = await family_with(client, 1)
    http = await client.post(
        f"/api/v1/families/{fid}/token-requests",
        json={"amount": HUGE, "reason": "a new console"},
        headers=kid["headers"],
    )
    assert http.status_code == 422, http.text
    http_error = http.json()["error"]
    # One amount type everywhere (issue 15, F11): an out-of-range amount is INVALID_AMOUNT.
    assert http_error["code"] == "INVALID_AMOUNT"

    spec = REGISTRY["family_token_request_create"]
    ctx = ToolContext(services=services(client), actor=_actor(kid), call_id="call_huge")
    # The model's arguments decode like an HTTP body (the amount is an integer)...
    parsed = spec.parse({"group": fid, "amount": HUGE, "reason": "a new console"})
    # ...and the range is the manager's: the tool gets HTTP's answer.
    with pytest.raises(DomainError) as ran:
        await spec.run(ctx, parsed)
    assert (ran.value.status_code, ran.value.code) == (422, http_error["code"])
    unchecked = spec.args(group=fid, amount=HUGE, reason="a new console")  # type: ignore[call-arg]
    with pytest.raises(DomainError) as ran:
        await spec.run(ctx, unchecked)
    assert (ran.value.status_code, ran.value.code) == (422, http_error["code"])
    with pytest.raises(DomainError) as direct:
        await services(client).families.create_token_request(
            _actor(kid), fid, TokenRequestCreate(amount=HUGE, reason="a new console")
        )
    assert (direct.value.status_code, direct.value.code) == (422, http_error["code"])
    assert [d["field"] for d in direct.value.details] == [d["field"] for d in http_error["details"]]
    assert await _stored_requests(fid) == 0


async def test_short_reason_and_valid_request_through_the_tool(client):
    """The tool refuses a reason under the schema's 5 characters and stores a valid one."""
    _admin, [kid], fid = await family_with(client, 1)
    spec = REGISTRY["family_token_request_create"]
    ctx = ToolContext(services=services(client), actor=_actor(kid), call_id="call_ok")
    with pytest.raises(DomainError) as short:
        await spec.run(ctx, spec.args(group=fid, amount=5, reason="no"))  # type: ignore[call-arg]
    assert short.value.code == "VALIDATION_ERROR"
    assert await _stored_requests(fid) == 0
    made = await spec.run(ctx, spec.parse({"group": fid, "amount": 5000, "reason": "new bike"}))
    assert made.amount == 5000 and made.status == "pending"
    assert await _stored_requests(fid) == 1


async def test_api_token_creation_needs_step_up_in_the_manager(client):
    """Step-up for creating an API token was checked only by its route; any other caller of
    the manager (agent, CLI) could create one from an old session."""
    user = await person(client, "tok")
    manager = services(client).api_tokens
    cmd = ApiTokenCreate(name="ci", scopes=["wallet:read"])
    stale = Actor(user_id=ObjectId(user["id"]), username=user["username"], auth_time=None)
    with pytest.raises(Forbidden) as refused:
        await manager.create(stale, cmd)
    assert refused.value.code == "STEP_UP_REQUIRED"
    fresh = Actor(
        user_id=ObjectId(user["id"]),
        username=user["username"],
        auth_time=time.time(),
        session_id=str(ObjectId()),
    )
    created = await manager.create(fresh, cmd)
    assert created.name == "ci" and created.token
