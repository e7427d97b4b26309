"""Bad input answers 4xx with the standard error body and writes nothing."""

from __future__ import annotations

import pytest

from auth.documents import AuthSession, User
from tests.helpers import PASSWORD, assert_error, unique_name

pytestmark = pytest.mark.integration

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"


async def _nothing_written() -> None:
    assert await User.count() == 0
    assert await AuthSession.count() == 0


async def test_malformed_json(client):
    response = await client.post(
        REGISTER, content=b'{"username": "abc", ', headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "MALFORMED_BODY")
    await _nothing_written()


async def test_not_an_object(client):
    response = await client.post(REGISTER, json=["username", "password"])
    assert_error(response, 422, "VALIDATION_ERROR")
    await _nothing_written()


async def test_wrong_types_give_per_field_details(client):
    response = await client.post(
        REGISTER, json={"username": 12345, "email": "a@b.co", "password": PASSWORD}
    )
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "username"
    await _nothing_written()


async def test_missing_fields(client):
    response = await client.post(REGISTER, json={"username": unique_name()})
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert error["details"]
    await _nothing_written()


async def test_unknown_fields_refused(client):
    name = unique_name()
    response = await client.post(
        REGISTER,
        json={
            "username": name,
            "email": f"{name}@e.com",
            "password": PASSWORD,
            "isAdmin": True,
        },
    )
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert "isAdmin" in error["details"][0]["message"]
    await _nothing_written()


async def test_one_megabyte_string(client):
    big = "a" * (1024 * 1024)
    response = await client.post(
        REGISTER, json={"username": big, "email": "x@e.com", "password": PASSWORD}
    )
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)
    await _nothing_written()


async def test_long_string_under_the_body_limit(client):
    response = await client.post(
        REGISTER, json={"username": "a" * 5000, "email": "x@e.com", "password": PASSWORD}
    )
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "username"
    await _nothing_written()


async def test_operator_object_where_a_string_belongs(client):
    response = await client.post(LOGIN, json={"login": {"$gt": ""}, "password": {"$ne": None}})
    error = assert_error(response, 422, "VALIDATION_ERROR")
    assert error["details"][0]["field"] in {"login", "password"}
    await _nothing_written()


async def test_invalid_utf8(client):
    """Regression: Litestar answered 500 to a body that is not valid UTF-8."""
    response = await client.post(
        REGISTER,
        content=b'{"username": "\xff\xfe\xfd", "email": "x@e.com", "password": "x"}',
        headers={"content-type": "application/json"},
    )
    assert_error(response, 400, "MALFORMED_BODY")
    await _nothing_written()


async def test_unknown_route_and_method(client):
    error = assert_error(await client.get("/api/v1/nope"), 404, "NOT_FOUND")
    assert error["requestId"]
    assert_error(await client.get(REGISTER), 405, "METHOD_NOT_ALLOWED")
