"""Every family route: a non-member gets 404, a plain member 403 where admins are required
(generated from the route table, so a new route without a rule fails)."""

from __future__ import annotations

import pytest

from tests.integration.access_matrix import RULES, run_matrix

pytestmark = pytest.mark.integration


async def test_family_access_matrix(client):
    calls = await run_matrix(client, "family")
    assert calls >= len(RULES["family"])
