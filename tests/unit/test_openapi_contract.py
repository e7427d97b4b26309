"""The OpenAPI document clients are generated from tells the truth (issue 16).

The document is built from the app's routes without services, then post-processed exactly as
`/schema/openapi.json` serves it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from server.app import create_app
from server.openapi.document import finalize
from server.openapi.error_codes import codes_for_module, error_classes
from server.openapi.examples import REQUEST_EXAMPLES
from server.openapi.routes_info import operation_infos
from server.settings import Settings

pytestmark = pytest.mark.unit

MONEY_ROUTES = {
    ("/api/v1/wallet/transfers", "post"),
    ("/api/v1/admin/wallet/mint", "post"),
    ("/api/v1/shop/purchases", "post"),
    ("/api/v1/families/{group_id}/wallet/transfers", "post"),
    ("/api/v1/workspaces/{group_id}/wallet/transfers", "post"),
}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    app = create_app(Settings())
    return finalize(app.openapi_schema.to_schema(), operation_infos(app))


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if isinstance(op, dict) and "responses" in op
    ]


def test_every_error_response_is_the_real_body_with_its_codes(doc: dict[str, Any]) -> None:
    """Bug: every operation documented only a 400 with Litestar's `{status_code, detail,
    extra}`; the api answers `{"error": {code, message, details, requestId}}`."""
    body = doc["components"]["schemas"]["ErrorResponse"]
    assert body["required"] == ["error"]
    info = doc["components"]["schemas"]["ErrorInfo"]
    assert set(info["required"]) == {"code", "message", "details", "requestId"}
    for path, method, op in _operations(doc):
        errors = {s: r for s, r in op["responses"].items() if s[0] in "45"}
        assert "503" in errors, (method, path)
        for status, response in errors.items():
            media = response["content"]["application/json"]
            assert media["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
            assert response["x-error-codes"], (method, path, status)
            assert set(media["examples"]) == set(response["x-error-codes"])
            assert "status_code" not in str(media)


def test_operations_list_the_codes_their_area_raises(doc: dict[str, Any]) -> None:
    transfer = doc["paths"]["/api/v1/wallet/transfers"]["post"]["responses"]
    assert "INSUFFICIENT_FUNDS" in transfer["409"]["x-error-codes"]
    assert "IDEMPOTENCY_KEY_REUSED" in transfer["409"]["x-error-codes"]
    assert "IDEMPOTENCY_KEY_REQUIRED" in transfer["400"]["x-error-codes"]
    assert "INVALID_AMOUNT" in transfer["422"]["x-error-codes"]
    assert {"UNAUTHORIZED", "TOKEN_EXPIRED"} <= set(transfer["401"]["x-error-codes"])
    login = doc["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert "INVALID_CREDENTIALS" in login["401"]["x-error-codes"]
    assert "429" in login
    # Codes come from the code: a class's own `code` and a call's `code=` both count.
    assert error_classes()["InsufficientFunds"] == (409, "INSUFFICIENT_FUNDS")
    assert "BAD_CHANNELS" in codes_for_module("realtime.sse")[400]


def test_security_schemes_and_per_operation_security(doc: dict[str, Any]) -> None:
    """Bug: no `securitySchemes`, so no Authorize button and generated clients could not
    attach tokens."""
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["apiToken"]["scheme"] == "bearer"
    ops = {(p, m): op for p, m, op in _operations(doc)}
    assert ops[("/api/v1/wallet", "get")]["security"] == [{"bearerAuth": []}, {"apiToken": []}]
    assert ops[("/api/v1/auth/login", "post")]["security"] == []
    assert {"sseTicket": []} in ops[("/api/v1/events/stream", "get")]["security"]


def test_schema_titles_are_unique(doc: dict[str, Any]) -> None:
    """Bug: `SessionView`, `ApprovalDecision` and `FreezeRequest` each named two schemas, so
    generators dropped models and whole operations (admin freeze, voice approval)."""
    schemas = doc["components"]["schemas"]
    titles = [s.get("title") for s in schemas.values()]
    assert len(titles) == len(set(titles))
    assert all(title == name for name, title in zip(schemas, titles, strict=True))
    assert not [name for name in schemas if "_" in name]
    assert {"AuthSessionView", "AgentsSessionView", "WalletFreezeRequest"} <= set(schemas)


def test_money_routes_require_the_idempotency_key(doc: dict[str, Any]) -> None:
    """Bug: `Idempotency-Key` was `required: false` on the five routes that refuse without it."""
    found = set()
    for path, method, op in _operations(doc):
        for param in op.get("parameters", []):
            if param["name"].lower() == "idempotency-key":
                found.add((path, method))
                assert param["required"] is True
                assert param["schema"]["type"] == "string"
                ok = next(r for s, r in op["responses"].items() if s.startswith("2"))
                assert "Idempotent-Replayed" in ok["headers"]
    assert found == MONEY_ROUTES


def test_amount_is_an_integer_and_ignored_fields_are_gone(doc: dict[str, Any]) -> None:
    """Bug: `amount` read `integer|number|string` (only integers are accepted) and
    `RegisterRequest` advertised `role`/`roles` with an empty schema."""
    schemas = doc["components"]["schemas"]
    for name in ("TransferRequest", "MintRequest"):
        assert schemas[name]["properties"]["amount"]["type"] == "integer"
    assert set(schemas["RegisterRequest"]["properties"]) == {"username", "email", "password"}
    empty = [
        (name, prop)
        for name, schema in schemas.items()
        for prop, value in schema.get("properties", {}).items()
        if value == {}
    ]
    assert empty == []


def test_sse_routes_are_event_streams(doc: dict[str, Any]) -> None:
    """Bug: the SSE routes were typed `application/json`."""
    stream = doc["paths"]["/api/v1/events/stream"]["get"]["responses"]["200"]
    assert list(stream["content"]) == ["text/event-stream"]
    chat = doc["paths"]["/api/v1/chat/sessions/{session_id}/messages"]["post"]["responses"]
    assert list(chat["200"]["content"]) == ["text/event-stream"]


def test_operation_ids_are_clean_and_unique(doc: dict[str, Any]) -> None:
    """Bug: operation ids read `ApiV1AuthLoginLogin`."""
    ids = [op["operationId"] for _, _, op in _operations(doc)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9]*", i) for i in ids), ids
    ops = {(p, m): op for p, m, op in _operations(doc)}
    assert ops[("/api/v1/auth/login", "post")]["operationId"] == "authLogin"
    assert ops[("/api/v1/wallet/transfers", "post")]["operationId"] == "walletTransfer"


def test_main_requests_have_examples(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for name in ("RegisterRequest", "LoginRequest", "TransferRequest", "GroupCreate"):
        assert schemas[name]["examples"] == [REQUEST_EXAMPLES[name]]
        assert set(REQUEST_EXAMPLES[name]) <= set(schemas[name]["properties"])


SEARCH_PAGES = {"SearchPage", "RelatedPage"}


def test_no_get_answers_a_bare_array(doc: dict[str, Any]) -> None:
    """Issue 16: 16 list endpoints answered bare arrays while 9 answered `{items,
    nextCursor}`; every list now has the one paging shape, each with its named schema."""
    schemas = doc["components"]["schemas"]
    bare, unnamed = [], []
    for path, method, op in _operations(doc):
        ok = op["responses"].get("200", {})
        for content in ok.get("content", {}).values():
            schema = content.get("schema", {})
            if schema.get("type") == "array" or "items" in schema:
                bare.append(path)
            ref = schema.get("$ref", "")
            name = ref.rsplit("/", 1)[-1]
            # Search answers carry `hits`/`notes` with their mode (not yet renamed).
            if method == "get" and name.endswith("Page") and name not in SEARCH_PAGES:
                props = schemas[name]["properties"]
                if not {"items", "nextCursor"} <= set(props):
                    unnamed.append((path, name))
    assert bare == []
    assert unnamed == []
