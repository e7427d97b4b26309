"""The app shell: health, request ids, OpenAPI, metrics, CORS, the error shape."""

from __future__ import annotations

import pytest

from tests.helpers import assert_error, register

pytestmark = pytest.mark.integration


async def test_live_and_ready(client):
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["components"]["mongodb"]["status"] == "ok"
    assert body["components"]["redis"]["status"] == "ok"
    # No Ollama runs in the tests: the LLM is reported degraded, the api is not down.
    critical_ok = all(c["status"] == "ok" for n, c in body["components"].items() if n != "llm")
    assert critical_ok and body["status"] in {"ok", "degraded"}


async def test_ready_is_503_when_redis_is_down(app_factory):
    async with app_factory(redis_url="redis://127.0.0.1:1/0") as client:
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "down"
        assert body["components"]["redis"]["status"] == "down"
        assert body["components"]["mongodb"]["status"] == "ok"


async def test_request_id_is_echoed_or_made(client):
    mine = await client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert mine.headers["x-request-id"] == "abc-123"
    made = await client.get("/health/live", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32
    error = assert_error(await client.get("/nowhere", headers={"X-Request-ID": "r-1"}), 404)
    assert error["requestId"] == "r-1"


async def test_openapi_document(client):
    schema = await client.get("/schema/openapi.json")
    assert schema.status_code == 200
    doc = schema.json()
    assert doc["openapi"].startswith("3.1")
    assert "/api/v1/auth/register" in doc["paths"]
    register_body = doc["components"]["schemas"]["RegisterRequest"]["properties"]
    assert {"username", "email", "password"} <= set(register_body)
    ui = await client.get("/schema")
    assert ui.status_code == 200 and "<html" in ui.text.lower()


async def test_metrics_count_requests(client):
    await register(client)
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert "second_brain_requests_total" in metrics.text
    assert 'path="/api/v1/auth/register"' in metrics.text


async def test_cors_preflight_for_allowed_origin_only(app_factory):
    async with app_factory(cors_origins=["https://app.example"]) as client:
        allowed = await client.options(
            "/api/v1/auth/login",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert allowed.status_code in (200, 204)
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        other = await client.get("/health/live", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
