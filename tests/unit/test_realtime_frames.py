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
