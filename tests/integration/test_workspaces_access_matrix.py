"""Every workspace route: a non-member gets 404, a viewer 403 where admins or the owner are
required (generated from the route table, so a new route without a rule fails)."""

from __future__ import annotations

import pytest

from tests.integration.access_matrix import RULES, run_matrix

pytestmark = pytest.mark.integration


async def test_workspace_access_matrix(client):
    calls = await run_matrix(client, "workspace")
    assert calls >= len(RULES["workspace"])
