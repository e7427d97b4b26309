"""`details` items have one shape everywhere: `{field, code, message}` first, context after.

Bug (issue 16): validation errors sent `{field, source, message}`, domain errors whatever
each manager chose (`{balance, amount}`, `{scope}`, `{retryAfter}`, `{currentVersion}`), so
a client could not render or branch on them generically.
"""

from __future__ import annotations

import pytest

from server.core.errors import Conflict, error_details
from tests.helpers import assert_error, register
from tests.integration.wallet_support import key, verified_user

pytestmark = pytest.mark.integration


def test_error_details_shapes_any_item_and_is_idempotent():
    shaped = error_details(
        [{"limit": 3}, "plain text", {"field": "x", "code": "TOO_LONG"}], "E", "m"
    )
    assert shaped == [
        {"field": None, "code": "E", "message": "m", "limit": 3},
        {"field": None, "code": "E", "message": "plain text"},
        {"field": "x", "code": "TOO_LONG", "message": "m"},
    ]
    assert error_details(shaped, "OTHER", "other") == shaped
    raised = Conflict("Taken.", code="NAME_TAKEN", details=[{"name": "a"}])
    assert raised.details == [
        {"field": None, "code": "NAME_TAKEN", "message": "Taken.", "name": "a"}
    ]


async def test_representative_error_answers_all_carry_the_one_shape(client):
    """A walk over the kinds of failure: framework validation, manager validation, a domain
    rule with context, a missing scope-like refusal, and malformed JSON."""
    user = await register(client)
    answers = []
    # Framework validation (msgspec decode of the body).
    answers.append(
        (await client.post("/api/v1/auth/register", json={"username": 5}), 422, "VALIDATION_ERROR")
    )
    # Manager validation (a rule checked in the manager).
    answers.append(
        (
            await client.post(
                "/api/v1/auth/register",
                json={"username": "admin_x", "email": "a@example.com", "password": "x" * 16},
            ),
            422,
            None,
        )
    )
    # A domain rule with context members (balance, amount).
    rich = await verified_user(client)
    poor = await client.post(
        "/api/v1/wallet/transfers",
        json={"to": {"username": user["user"]["username"]}, "amount": 5},
        headers={**rich["headers"], **key()},
    )
    answers.append((poor, 409, "INSUFFICIENT_FUNDS"))
    # Malformed JSON, and an unknown route (no details at all).
    bad_json = await client.post(
        "/api/v1/auth/login", content=b"{", headers={"Content-Type": "application/json"}
    )
    answers.append((bad_json, 400, "MALFORMED_BODY"))
    answers.append((await client.get("/api/v1/nowhere"), 404, "NOT_FOUND"))

    with_details = 0
    for response, status, code in answers:
        error = assert_error(response, status, code)  # checks each item's shape
        with_details += bool(error["details"])
    assert with_details >= 3
    funds = poor.json()["error"]["details"][0]
    assert (funds["field"], funds["code"]) == (None, "INSUFFICIENT_FUNDS")
    assert {"balance", "amount"} <= set(funds)
