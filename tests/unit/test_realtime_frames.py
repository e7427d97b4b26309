"""Frame shapes clients parse (issue 16 leftovers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from realtime.protocol import AuthRefreshed, Ready, encode_frame, expiry

pytestmark = pytest.mark.unit


def test_ready_and_refreshed_expires_at_is_iso_8601_like_rest():
    """Bug: `ready.expiresAt` and `auth.refreshed.expiresAt` were epoch seconds while every
    REST time is an ISO 8601 string, so one client needed two date parsers."""
    exp = 1_800_000_000.7
    ready = json.loads(
        encode_frame(
            Ready(
                connection_id="c1",
                user_id="u1",
                expires_at=expiry(exp),
                heartbeat_interval=25,
                max_frame_bytes=65536,
            )
        )
    )
    refreshed = json.loads(encode_frame(AuthRefreshed(expires_at=expiry(exp), ref="r1")))
    for frame in (ready, refreshed):
        assert isinstance(frame["expiresAt"], str)
        parsed = datetime.fromisoformat(frame["expiresAt"])
        assert parsed == datetime.fromtimestamp(1_800_000_000, UTC)


def test_asyncapi_types_expires_at_as_a_date_time_string():
    from realtime.asyncapi import build_asyncapi

    doc = build_asyncapi(title="t", version="1", event_types={})
    schemas = doc["components"]["schemas"]
    for name in ("Ready", "AuthRefreshed"):
        prop = schemas[name]["properties"]["expiresAt"]
        assert (prop["type"], prop["format"]) == ("string", "date-time"), prop


class _Conn:
    """The parts of a `Connection` that `auth.refresh` uses."""

    def __init__(self, user_id: str, session_id: str) -> None:
        self.actor = type("A", (), {"user_id": user_id, "session_id": session_id})()
        self.frames: list[dict] = []
        self.extended_to: float | None = None

    def push_frame(self, kind: str, text: bytes | str) -> None:
        self.frames.append(json.loads(text))

    def schedule_expiry(self, expires_at: float, now: float, code: int) -> None:
        self.extended_to = expires_at


class _Hub:
    def __init__(self, live: bool) -> None:
        config = type("C", (), {"secret_key": SECRET, "jwt_issuer": "sb"})()
        self.live = live
        self.auth = type("Auth", (), {"config": config, "session_is_live": self._live})()

    async def _live(self, session_id: str) -> bool:
        return self.live


SECRET = "s" * 40


def _token(user: str, session: str, ttl: int) -> str:
    from auth.tokens import issue_access_token

    return issue_access_token(
        secret=SECRET,
        issuer="sb",
        ttl=ttl,
        user_id=user,
        session_id=session,
        username="u",
        roles=[],
        auth_method="password",
        mfa=False,
        auth_time=0,
    )


@pytest.mark.parametrize(
    ("token", "live", "code"),
    [
        (None, True, "INVALID_TOKEN"),
        (("u1", "s1", -10), True, "TOKEN_EXPIRED"),
        (("u1", "other-session", 600), True, "TOKEN_SESSION_MISMATCH"),
        (("u1", "s1", 600), False, "SESSION_REVOKED"),
        (("u1", "s1", 600), True, None),
    ],
)
async def test_auth_refresh_names_each_refusal_with_its_own_code(token, live, code):
    """Bug (issue 16): `auth.refresh` answered INVALID_TOKEN for a forged, an expired and
    another session's token, and for an ended session. (The tokens are made when the test
    runs: made at collection, the 600 s ones had expired by the time a full run got here.)"""
    from realtime.gateway import _refresh
    from realtime.protocol import AuthRefresh

    conn = _Conn("u1", "s1")
    access = "not-a-jwt" if token is None else _token(*token)
    await _refresh(AuthRefresh(access_token=access, ref="r"), conn, _Hub(live))  # type: ignore[arg-type]
    (frame,) = conn.frames
    if code is None:
        assert frame["type"] == "auth.refreshed" and conn.extended_to is not None
    else:
        assert (frame["type"], frame["code"], frame["ref"]) == ("error", code, "r")
        assert conn.extended_to is None
