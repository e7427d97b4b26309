"""`page_slice`: the paging shape's cursor over a list a manager returned whole (issue 16)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from server.core.errors import BadRequest
from server.core.paging import page_slice

pytestmark = pytest.mark.unit

ITEMS = [SimpleNamespace(id=f"i{n}") for n in range(5)]


def test_pages_walk_the_whole_list_once():
    seen, cursor = [], None
    while True:
        page, cursor = page_slice(ITEMS, limit=2, cursor=cursor)
        seen += [item.id for item in page]
        if cursor is None:
            break
    assert seen == ["i0", "i1", "i2", "i3", "i4"]


def test_last_full_page_has_no_next_cursor():
    page, cursor = page_slice(ITEMS[:4], limit=2, cursor="i1")
    assert [item.id for item in page] == ["i2", "i3"] and cursor is None


def test_unknown_cursor_is_a_400():
    with pytest.raises(BadRequest) as err:
        page_slice(ITEMS, limit=2, cursor="gone")
    assert err.value.code == "INVALID_CURSOR"
