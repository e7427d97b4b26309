"""Pure logic: settings, client IP resolution, tokens, password policy, the actor."""

from __future__ import annotations

import time

import pytest
from bson import ObjectId

from auth.client_ip import resolve_client_ip
from auth.passwords import check_password_policy
from auth.tokens import decode_access_token, issue_access_token, split_refresh_token
from server.core.actor import Actor
from server.core.errors import Unauthorized, Unprocessable
from server.settings import DEFAULT_SECRET_KEY, Settings

pytestmark = pytest.mark.unit


def test_production_refuses_the_default_secret():
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(environment="production", secret_key=DEFAULT_SECRET_KEY)
    with pytest.raises(ValueError, match="SECRET_KEY"):
        Settings(environment="production", secret_key="short")
    assert Settings(environment="production", secret_key="x" * 40).environment == "production"


def test_list_settings_accept_csv_and_json(monkeypatch):
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("TRUSTED_PROXIES", '["10.0.0.0/8"]')
    settings = Settings()
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.trusted_proxies == ["10.0.0.0/8"]


@pytest.mark.parametrize(
    ("peer", "xff", "trusted", "expected"),
    [
        ("1.2.3.4", "9.9.9.9", (), "1.2.3.4"),  # untrusted peer: header ignored
        ("10.0.0.5", "9.9.9.9", ("10.0.0.0/8",), "9.9.9.9"),
        ("10.0.0.5", "6.6.6.6, 9.9.9.9, 10.0.0.7", ("10.0.0.0/8",), "9.9.9.9"),  # spoofed left
        ("10.0.0.5", "garbage", ("10.0.0.0/8",), "10.0.0.5"),
        ("10.0.0.5", None, ("10.0.0.0/8",), "10.0.0.5"),
    ],
)
def test_client_ip(peer, xff, trusted, expected):
    assert resolve_client_ip(peer, xff, trusted) == expected


def _token(secret: str = "s" * 40, ttl: int = 60) -> str:
    return issue_access_token(
        secret=secret,
        issuer="second-brain",
        ttl=ttl,
        user_id=str(ObjectId()),
        session_id=str(ObjectId()),
        username="alice",
        roles=["admin"],
        auth_method="password",
        mfa=False,
        auth_time=time.time(),
    )


def test_access_token_round_trip_and_tamper():
    claims = decode_access_token(_token(), secret="s" * 40, issuer="second-brain")
    assert claims.username == "alice" and claims.roles == ("admin",)
    with pytest.raises(Unauthorized) as wrong_key:
        decode_access_token(_token(), secret="t" * 40, issuer="second-brain")
    assert wrong_key.value.code == "INVALID_TOKEN"
    with pytest.raises(Unauthorized) as expired:
        decode_access_token(_token(ttl=-5), secret="s" * 40, issuer="second-brain")
    assert expired.value.code == "TOKEN_EXPIRED"


@pytest.mark.parametrize("token", ["", "abc", "short.x", "a" * 24 + ".", "." + "x" * 10])
def test_malformed_refresh_tokens(token):
    with pytest.raises(Unauthorized):
        split_refresh_token(token)


def test_password_policy():
    check_password_policy("a long unusual passphrase", min_length=12)
    for bad in ("short", "password1234", "x" * 300):
        with pytest.raises(Unprocessable):
            check_password_policy(bad, min_length=12)
    with pytest.raises(Unprocessable):
        check_password_policy("alice-has-a-long-pass", min_length=12, username="alice")


def test_actor_scopes_and_channel():
    actor = Actor(user_id=ObjectId(), username="a")
    assert actor.allows_scope("wallet:write")
    scoped = Actor(user_id=ObjectId(), username="a", scopes=frozenset({"wallet:read"}))
    assert scoped.allows_scope("wallet:read") and not scoped.allows_scope("wallet:write")
    agent = actor.with_channel("agent")
    assert (
        agent.channel == "agent" and agent.user_id == actor.user_id and agent.roles == actor.roles
    )
