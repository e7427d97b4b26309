"""MCP pieces without services: the tool list, scopes, the signed request state, audience."""

from __future__ import annotations

import jwt
import pytest
from bson import ObjectId

from agents.mcp.config import McpConfig
from agents.mcp.scopes import tool_scope
from agents.mcp.server import audience_ok
from agents.mcp.state import RequestState
from agents.mcp.tools import mcp_tool
from agents.tools import REGISTRY
from server.core.actor import Actor

pytestmark = pytest.mark.unit

ANN = Actor(user_id=ObjectId(), username="ann")
BOB = Actor(user_id=ObjectId(), username="bob")


def test_every_registry_tool_becomes_an_mcp_tool_with_hints():
    for spec in REGISTRY.all():
        tool = mcp_tool(spec)
        assert tool.name == spec.name and tool.title and tool.description
        assert tool.input_schema["type"] == "object"
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is (not spec.mutating)
        assert tool.annotations.destructive_hint is (spec.mutating and spec.needs_approval)


def test_scopes_follow_the_area_and_the_kind_of_call():
    assert tool_scope(REGISTRY["wallet_balance"]) == "wallet:read"
    assert tool_scope(REGISTRY["wallet_transfer"]) == "wallet:transfer"
    assert tool_scope(REGISTRY["notes_create"]) == "notes:write"
    assert tool_scope(REGISTRY["security_sessions"]) is None  # login sessions only


def test_request_state_is_bound_to_user_and_tool_and_expires():
    now = [1_000_000.0]
    state = RequestState("s" * 40, ttl_seconds=60, clock=lambda: now[0])
    token = state.issue(ANN, "wallet_transfer", "mcp_abc")
    assert state.verify(token, ANN, "wallet_transfer") == "mcp_abc"
    assert state.verify(token, BOB, "wallet_transfer") is None
    assert state.verify(token, ANN, "shop_buy") is None
    _call, issued, sig = token.split(".")
    assert state.verify(f"mcp_other.{issued}.{sig}", ANN, "wallet_transfer") is None
    assert state.verify("garbage", ANN, "wallet_transfer") is None
    now[0] += 61
    assert state.verify(token, ANN, "wallet_transfer") is None


def test_audience_must_name_the_resource_when_present():
    url = "https://api.example.com/mcp"
    ours = jwt.encode({"sub": "1"}, "k" * 32, algorithm="HS256")
    theirs = jwt.encode({"sub": "1", "aud": "https://other.example/mcp"}, "k" * 32)
    named = jwt.encode({"sub": "1", "aud": [url + "/", "x"]}, "k" * 32)
    assert audience_ok(ours, url) and audience_ok("sbp_abc", url)
    assert not audience_ok(theirs, url)
    assert audience_ok(named, url)


def test_metadata_url_inserts_the_well_known_path():
    config = McpConfig(resource_url="https://api.example.com/mcp")
    assert config.metadata_url == (
        "https://api.example.com/.well-known/oauth-protected-resource/mcp"
    )
