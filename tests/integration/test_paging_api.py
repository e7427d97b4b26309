"""The one paging shape over HTTP (issue 16): a list walked page by page with `cursor`."""

from __future__ import annotations

import pytest

from tests.helpers import assert_error
from tests.integration.groups_support import BASES, family_with

pytestmark = pytest.mark.integration
F = BASES["family"]


async def test_members_are_walked_page_by_page_with_the_cursor(client):
    """Lists answered bare arrays with no way to page; now `{items, nextCursor}` and a
    `cursor` that continues after the last item, `null` on the last page."""
    admin, members, fid = await family_with(client, 2)
    seen, cursor = [], None
    for _ in range(5):
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = await client.get(f"{F}/{fid}/members", params=params, headers=admin["headers"])
        assert page.status_code == 200, page.text
        body = page.json()
        assert set(body) == {"items", "nextCursor"} and len(body["items"]) == 1
        seen += [m["userId"] for m in body["items"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted([admin["id"], *(m["id"] for m in members)])
    bad = await client.get(
        f"{F}/{fid}/members", params={"cursor": "nobody"}, headers=admin["headers"]
    )
    assert_error(bad, 400, "INVALID_CURSOR")
