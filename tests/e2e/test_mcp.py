"""The MCP server (issue 17) through the official SDK client (`mcp.client.streamable_http`)
against a real api process: tools with schemas and hints, scopes, approvals parked in the
app and answered there (the recipient's WebSocket sees the transfer), elicitation, other
users' data, revoked tokens, and the RFC 9728 challenge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import mcp_types as types
import pytest
import pytest_asyncio
from mcp.shared.exceptions import MCPError

from scripts.api_process import ApiProcess
from tests.e2e.api_factory import ApiFactory
from tests.e2e.realtime_support import connect, recv_events, subscribe
from tests.e2e.realtime_support import login as rt_login
from tests.helpers import detail_context, register
from tests.mcp_support import api_token, cli_admin, mcp_client, structured

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SETTINGS: dict[str, Any] = {"wallet_require_verified_email": False}


@pytest_asyncio.fixture(scope="module")
async def api(module_apis: ApiFactory) -> ApiProcess:
    return await module_apis.start(**SETTINGS)


@pytest_asyncio.fixture
async def http(api: ApiProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.base, timeout=30) as client:
        yield client


async def funded(http: httpx.AsyncClient, env: dict[str, str], amount: int) -> dict[str, Any]:
    user = await register(http)
    admin = await cli_admin(http, env)
    r = await http.post(
        "/api/v1/admin/wallet/mint",
        json={"to": {"username": user["user"]["username"]}, "amount": amount, "reason": "mcp"},
        headers={**admin["headers"], "Idempotency-Key": f"mint-{user['user']['id']}"},
    )
    assert r.status_code == 201, r.text
    return user


async def test_tools_are_listed_with_schemas_titles_and_hints(api, http):
    user = await register(http)
    async with mcp_client(api.base, user["accessToken"]) as client:
        assert client.protocol_version == "2026-07-28"
        tools = {t.name: t for t in (await client.list_tools()).tools}
    transfer = tools["wallet_transfer"]
    assert transfer.title == "Wallet transfer"
    assert transfer.input_schema["type"] == "object"
    assert {"to_username", "amount"} <= set(transfer.input_schema["properties"])
    assert transfer.annotations is not None
    assert transfer.annotations.read_only_hint is False
    assert transfer.annotations.destructive_hint is True
    balance = tools["wallet_balance"]
    assert balance.annotations is not None and balance.annotations.read_only_hint is True
    assert balance.annotations.destructive_hint is False
    assert "notes_get" in tools and "shop_buy" in tools


async def test_read_tool_with_a_scoped_api_token(api, http):
    user = await register(http)
    token = await api_token(http, user, ["wallet:read"])
    async with mcp_client(api.base, token["token"]) as client:
        result = await client.call_tool("wallet_balance", {})
        assert result.is_error is False
        assert structured(result)["balance"] == 0
        denied = await client.call_tool("notes_list", {})
    assert denied.is_error is True
    assert structured(denied)["error"]["code"] == "INSUFFICIENT_SCOPE"
    assert detail_context(structured(denied)["error"]) == [{"scope": "notes:read"}]


async def test_transfer_waits_for_approval_in_the_app_and_reaches_the_recipient(
    api, http, module_apis
):
    """No elicitation in the client: the call is parked; approving in the app moves the
    tokens and the recipient's WebSocket gets the same event as an HTTP transfer."""
    alice = await funded(http, module_apis.env(**SETTINGS), 100)
    bob = await register(http)
    token = await api_token(http, alice, ["wallet:read", "wallet:transfer"])
    bob_rt = await rt_login(api.base, type("U", (), {"username": bob["user"]["username"]})())
    ws = await connect(api, bob_rt)
    try:
        await subscribe(ws, bob_rt.channel)
        async with mcp_client(api.base, token["token"]) as client:
            parked = await client.call_tool(
                "wallet_transfer", {"to_username": bob["user"]["username"], "amount": 30}
            )
            body = structured(parked)
            assert parked.is_error is False and body["status"] == "awaiting_approval"
            balance = structured(await client.call_tool("wallet_balance", {}))["balance"]
            assert balance == 100  # nothing moved yet

            pending = await http.get("/api/v1/chat/approvals", headers=alice["headers"])
            assert pending.status_code == 200, pending.text
            (item,) = [p for p in pending.json()["items"] if p["id"] == body["approvalId"]]
            assert item["source"] == "mcp" and item["tool"] == "wallet_transfer"
            assert item["args"] == {"to_username": bob["user"]["username"], "amount": 30}

            answer = await http.post(
                f"/api/v1/chat/approvals/{body['approvalId']}",
                json={"approve": True},
                headers=alice["headers"],
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["resultStatus"] == "ok"
            again = await http.post(
                f"/api/v1/chat/approvals/{body['approvalId']}",
                json={"approve": True},
                headers=alice["headers"],
            )
            assert again.status_code == 409
            after = structured(await client.call_tool("wallet_balance", {}))["balance"]
        (event,) = await recv_events(ws, 1)
    finally:
        await ws.close()
    assert after == 70
    assert event["type"] == "wallet.transfer_completed"
    assert event["data"]["balance"] == 30 and event["data"]["transfer"]["amount"] == 30


async def test_elicitation_asks_the_user_through_the_client(api, http, module_apis):
    alice = await funded(http, module_apis.env(**SETTINGS), 50)
    bob = await register(http)
    asked: list[str] = []

    async def answer(_ctx: Any, params: Any) -> types.ElicitResult:
        asked.append(params.message)
        approve = "amount=5" in params.message
        return types.ElicitResult(action="accept", content={"approve": approve})

    async with mcp_client(api.base, alice["accessToken"], elicitation_callback=answer) as client:
        sent = await client.call_tool(
            "wallet_transfer", {"to_username": bob["user"]["username"], "amount": 5}
        )
        refused = await client.call_tool(
            "wallet_transfer", {"to_username": bob["user"]["username"], "amount": 7}
        )
        balance = structured(await client.call_tool("wallet_balance", {}))["balance"]
    assert len(asked) == 2 and "wallet_transfer" in asked[0]
    assert sent.is_error is False, sent
    assert structured(sent)["transfer"]["amount"] == 5
    assert refused.is_error is True and structured(refused)["error"]["code"] == "DENIED"
    assert balance == 45


async def test_another_users_family_is_not_found(api, http):
    owner = await register(http)
    created = await http.post("/api/v1/families", json={"name": "Owners"}, headers=owner["headers"])
    assert created.status_code == 201, created.text
    stranger = await register(http)
    async with mcp_client(api.base, stranger["accessToken"]) as client:
        result = await client.call_tool("family_info", {"group": created.json()["id"]})
    assert result.is_error is True
    error = structured(result)["error"]
    assert error["status"] == 404 and error["code"].endswith("NOT_FOUND")


async def test_a_token_revoked_mid_session_is_refused(api, http):
    user = await register(http)
    token = await api_token(http, user, ["wallet:read"])
    async with mcp_client(api.base, token["token"]) as client:
        assert (await client.call_tool("wallet_balance", {})).is_error is False
        revoked = await http.delete(f"/api/v1/auth/tokens/{token['id']}", headers=user["headers"])
        assert revoked.status_code == 204, revoked.text
        with pytest.raises(MCPError):  # the SDK reports the HTTP 401 as an MCP error
            await client.call_tool("wallet_balance", {})
    raw = await http.post("/mcp", json={}, headers={"Authorization": f"Bearer {token['token']}"})
    assert raw.status_code == 401 and raw.json()["error"]["code"] == "TOKEN_REVOKED"


async def test_401_carries_resource_metadata(api, http):
    r = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert r.status_code == 401
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and "resource_metadata=" in challenge
    url = challenge.split('resource_metadata="', 1)[1].split('"', 1)[0]
    path = url.split("://", 1)[1].split("/", 1)[1]
    meta = await http.get("/" + path)
    assert meta.status_code == 200, meta.text
    assert meta.json()["resource"].endswith("/mcp")
    assert "wallet:transfer" in meta.json()["scopes_supported"]
    assert r.json()["error"]["code"] == "UNAUTHORIZED"


async def test_denied_in_the_app_moves_nothing_and_both_events_reach_the_user(
    api, http, module_apis
):
    alice = await funded(http, module_apis.env(**SETTINGS), 40)
    bob = await register(http)
    alice_rt = await rt_login(api.base, type("U", (), {"username": alice["user"]["username"]})())
    ws = await connect(api, alice_rt)
    try:
        await subscribe(ws, alice_rt.channel)
        async with mcp_client(api.base, alice["accessToken"]) as client:
            parked = structured(
                await client.call_tool(
                    "wallet_transfer", {"to_username": bob["user"]["username"], "amount": 10}
                )
            )
            answer = await http.post(
                f"/api/v1/chat/approvals/{parked['approvalId']}",
                json={"approve": False},
                headers=alice["headers"],
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["status"] == "denied"
            assert answer.json()["resultStatus"] == "denied"
            balance = structured(await client.call_tool("wallet_balance", {}))["balance"]
        requested, resolved = await recv_events(ws, 2)
    finally:
        await ws.close()
    assert balance == 40
    assert requested["type"] == "mcp.approval_requested"
    assert requested["data"]["approvalId"] == parked["approvalId"]
    assert requested["data"]["tool"] == "wallet_transfer"
    assert resolved["type"] == "mcp.approval_resolved"
    assert resolved["data"]["status"] == "denied"
    other = await register(http)
    foreign = await http.post(
        f"/api/v1/chat/approvals/{parked['approvalId']}",
        json={"approve": True},
        headers=other["headers"],
    )
    assert foreign.status_code == 404


async def test_resources_and_prompts(api, http):
    user = await register(http)
    note = await http.post(
        "/api/v1/notes", json={"title": "Garden plan", "body": "Tomatoes"}, headers=user["headers"]
    )
    assert note.status_code == 201, note.text
    token = await api_token(http, user, ["notes:read"])
    async with mcp_client(api.base, token["token"]) as client:
        resources = (await client.list_resources()).resources
        templates = (await client.list_resource_templates()).resource_templates
        space = await client.read_resource(resources[0].uri)
        one = await client.read_resource(f"secondbrain://notes/{note.json()['id']}")
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        prompt = await client.get_prompt("send_tokens", {"to": "bob", "amount": "5"})
    assert resources and str(resources[0].uri).startswith("secondbrain://spaces/")
    assert {t.uri_template for t in templates} >= {"secondbrain://notes/{noteId}"}
    assert "Garden plan" in space.contents[0].text  # type: ignore[union-attr]
    assert "Tomatoes" in one.contents[0].text  # type: ignore[union-attr]
    assert {"summarize_space", "weekly_review", "send_tokens"} <= prompts
    assert "5 tokens to bob" in prompt.messages[0].content.text  # type: ignore[union-attr]


async def test_handshake_era_clients_are_served_statelessly(api, http, module_apis):
    """Clients on 2025-11-25 (`initialize`) work too; with no back channel on a stateless
    server, an approval is parked even if the client could elicit."""
    alice = await funded(http, module_apis.env(**SETTINGS), 20)
    bob = await register(http)

    async def never(_ctx: Any, _params: Any) -> types.ElicitResult:
        raise AssertionError("no elicitation on a stateless handshake-era request")

    async with mcp_client(
        api.base, alice["accessToken"], mode="legacy", elicitation_callback=never
    ) as client:
        assert client.protocol_version == "2025-11-25"
        assert "wallet_transfer" in {t.name for t in (await client.list_tools()).tools}
        assert structured(await client.call_tool("wallet_balance", {}))["balance"] == 20
        parked = structured(
            await client.call_tool(
                "wallet_transfer", {"to_username": bob["user"]["username"], "amount": 5}
            )
        )
    assert parked["status"] == "awaiting_approval"
