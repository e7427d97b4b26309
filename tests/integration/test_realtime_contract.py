"""The AsyncAPI document and the real-time HTTP endpoints, in process."""

from __future__ import annotations

import msgspec
import pytest

from realtime.protocol import CLIENT_FRAMES, CLOSE_CODES, SERVER_FRAMES, Subscribe, client_decoder
from server.event_catalog import event_types
from tests.helpers import assert_error, register

pytestmark = pytest.mark.integration


async def test_asyncapi_document_lists_every_frame_and_event_type(client):
    response = await client.get("/schema/asyncapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["asyncapi"] == "3.0.0"
    names = {m["name"] for m in doc["components"]["messages"].values()}
    for frame in (*CLIENT_FRAMES, *SERVER_FRAMES):
        assert frame.__struct_config__.tag in names
    for event_type in event_types():
        assert event_type in names
    assert {"session.revoked", "wallet.transfer_completed", "family.member_joined"} <= names
    assert [c["code"] for c in doc["info"]["x-close-codes"]] == [c.code for c in CLOSE_CODES]
    # Every $ref resolves inside the document.
    schemas = doc["components"]["schemas"]
    text = response.text
    for ref in set(part.split('"')[0] for part in text.split('"#/components/schemas/')[1:]):
        assert ref in schemas, ref
    # The OpenAPI document still lives beside it.
    assert (await client.get("/schema/openapi.json")).status_code == 200


async def test_ticket_endpoint_issues_single_use_tickets(client):
    user = await register(client)
    first = await client.post("/api/v1/realtime/ticket", headers=user["headers"])
    second = await client.post("/api/v1/realtime/ticket", headers=user["headers"])
    assert first.status_code == second.status_code == 201
    body = first.json()
    assert body["expiresIn"] == 30 and len(body["ticket"]) >= 40
    assert body["ticket"] != second.json()["ticket"]
    hub = client.app.state["realtime"]
    grant = await hub.tickets.redeem(body["ticket"])
    assert grant is not None and grant.user_id == user["user"]["id"]
    assert await hub.tickets.redeem(body["ticket"]) is None  # GETDEL: single use
    assert_error(await client.post("/api/v1/realtime/ticket"), 401, "UNAUTHORIZED")


async def test_family_channels_are_authorized_through_the_family_manager(client):
    owner, stranger = await register(client), await register(client)
    created = await client.post(
        "/api/v1/families", json={"name": "The Testers"}, headers=owner["headers"]
    )
    assert created.status_code == 201, created.text
    channel = f"family:{created.json()['id']}"
    ok = await client.get(f"/api/v1/presence/{channel}", headers=owner["headers"])
    assert ok.status_code == 200 and ok.json()["online"] == []
    refused = await client.get(f"/api/v1/presence/{channel}", headers=stranger["headers"])
    assert_error(refused, 403, "FORBIDDEN_CHANNEL")


def test_client_frames_decode_strictly():
    frame = client_decoder.decode(
        b'{"type":"subscribe","channel":"family:abc","since":{"epoch":"e1","offset":4}}'
    )
    assert isinstance(frame, Subscribe) and frame.since is not None and frame.since.offset == 4
    for bad in (b'{"type":"subscribe","channel":"x"}', b'{"type":"ping","x":1}', b"[]"):
        with pytest.raises(msgspec.ValidationError):
            client_decoder.decode(bad)
