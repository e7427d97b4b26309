"""The typed helpers that replaced `type: ignore`s (issue 11 part 9)."""

from __future__ import annotations

from typing import get_args

import pytest
from beanie import PydanticObjectId

from auth.tokens import _AUTH_METHODS, auth_method_of
from server.core.actor import AuthMethod
from server.core.ids import stored_id

pytestmark = pytest.mark.unit


def test_stored_id_keeps_the_id_and_refuses_a_document_never_stored() -> None:
    oid = PydanticObjectId()
    assert stored_id(oid) is oid
    with pytest.raises(ValueError, match="never stored"):
        stored_id(None)


def test_every_auth_method_survives_a_token_and_an_unknown_one_reads_as_password() -> None:
    assert set(_AUTH_METHODS) == set(get_args(AuthMethod))
    assert [auth_method_of(m) for m in get_args(AuthMethod)] == list(get_args(AuthMethod))
    assert auth_method_of("totp-magic") == "password"
    assert auth_method_of(None) == "password"
