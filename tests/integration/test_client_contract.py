"""What a browser or generated client sees of the contract, in process (issue 16)."""

from __future__ import annotations

import pytest

from tests.helpers import register

pytestmark = pytest.mark.integration


async def test_cors_exposes_the_headers_clients_read(client):
    """Bug: CORS exposed no headers, so browsers could not read `Idempotent-Replayed`,
    `X-Request-ID` or `Retry-After`."""
    origin = client.app.state["settings"].cors_origins[0]
    response = await client.get("/health/live", headers={"Origin": origin})
    assert response.headers["access-control-allow-origin"] == origin
    exposed = {
        h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"x-request-id", "idempotent-replayed", "retry-after"} <= exposed


async def test_the_served_documents_are_the_finalized_ones(client):
    doc = (await client.get("/schema/openapi.json")).json()
    assert "bearerAuth" in doc["components"]["securitySchemes"]
    assert doc["paths"]["/api/v1/auth/login"]["post"]["operationId"] == "authLogin"
    ui = await client.get("/schema/swagger")
    assert ui.status_code == 200 and 'data-spec="/schema/openapi.json"' in ui.text  # same doc
    asyncapi = (await client.get("/schema/asyncapi.json")).json()
    names = {m["name"] for m in asyncapi["components"]["messages"].values()}
    assert {"shop.purchase_completed", "shop.rental_expired"} <= names


async def test_an_error_answer_matches_the_documented_body(client):
    user = await register(client)
    response = await client.post(
        "/api/v1/wallet/transfers",
        json={"to": {"username": "nobody"}, "amount": 1},
        headers=user["headers"],
    )
    doc = (await client.get("/schema/openapi.json")).json()
    documented = doc["paths"]["/api/v1/wallet/transfers"]["post"]["responses"]
    body = response.json()
    assert str(response.status_code) in documented
    assert body["error"]["code"] in documented[str(response.status_code)]["x-error-codes"]
    assert set(body["error"]) == set(doc["components"]["schemas"]["ErrorInfo"]["required"])
