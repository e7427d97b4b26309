"""Issue 15 F15: look-alike and invisible characters in e-mail addresses and group names."""

from __future__ import annotations

import pytest

from auth.documents import User
from tests.helpers import PASSWORD, assert_error, unique_name
from tests.integration.groups_support import BASES, create_group, person

pytestmark = pytest.mark.integration


def fullwidth(text: str) -> str:
    """`text` in fullwidth forms (U+FF01..), which NFKC folds back to ASCII."""
    return "".join(chr(ord(ch) + 0xFEE0) for ch in text)


@pytest.mark.parametrize(
    "email",
    [
        "\u0430dmin@example.com",  # Cyrillic a
        "admin@ex\u0430mple.com",
        "evil\u202emoc.liame@example.com",  # RTL override
        "a@example.com,b@example.com",
        "a\u200b@example.com",  # zero-width space
        "a\x00@example.com",
    ],
)
async def test_register_refuses_lookalike_and_invisible_addresses(client, email):
    """F15: e-mail addresses accepted Cyrillic look-alikes, RTL overrides and `,`; they are
    validated by email-validator (ASCII only) and refused with 422 `INVALID_EMAIL`."""
    before = await User.count()
    answer = await client.post(
        "/api/v1/auth/register",
        json={"username": unique_name(), "email": email, "password": PASSWORD},
    )
    assert answer.status_code == 422, answer.text
    assert await User.count() == before


async def test_register_normalises_a_valid_address(client):
    """F15: a fullwidth address is NFKC-normalised, stored lower case."""
    name = unique_name()
    answer = await client.post(
        "/api/v1/auth/register",
        json={
            "username": name,
            "email": f"{name.upper()}@{fullwidth('EXAMPLE')}.com",
            "password": PASSWORD,
        },
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["user"]["email"] == f"{name}@example.com"


@pytest.mark.parametrize(
    "name", ["The \u202eSmiths", "Zero\u200bwidth", "Nul\x00family", "a\u2066bc"]
)
@pytest.mark.parametrize("kind", ["family", "workspace"])
async def test_group_names_refuse_control_and_bidi_characters(client, kind, name):
    """F15: group names accepted U+202E, zero-width characters and NUL."""
    owner = await person(client)
    created = await client.post(BASES[kind], json={"name": name}, headers=owner["headers"])
    assert_error(created, 422, "INVALID_NAME")
    group = await create_group(client, owner, kind, name="Fine name")
    renamed = await client.patch(
        f"{BASES[kind]}/{group['id']}", json={"name": name}, headers=owner["headers"]
    )
    assert_error(renamed, 422, "INVALID_NAME")


async def test_group_name_is_nfkc_normalised(client):
    """F15: compatibility forms are folded (fullwidth letters become ASCII)."""
    owner = await person(client)
    group = await create_group(client, owner, "family", name=fullwidth("Smith") + " family")
    assert group["name"] == "Smith family"
