"""Helpers for the notes tests (not a test module)."""

from __future__ import annotations

from typing import Any

import httpx

NOTES = "/api/v1/notes"
SPACES = "/api/v1/spaces"


async def space_of(
    client: httpx.AsyncClient, user: dict[str, Any], kind: str, owner_id: str | None = None
) -> dict[str, Any]:
    """The caller's space of `kind` (for a group: the one owned by `owner_id`)."""
    response = await client.get(SPACES, headers=user["headers"])
    assert response.status_code == 200, response.text
    for space in response.json()["items"]:
        if space["kind"] == kind and (owner_id is None or space["ownerId"] == owner_id):
            return space  # type: ignore[no-any-return]
    raise AssertionError(f"no {kind} space in {response.json()}")


async def new_note(client: httpx.AsyncClient, user: dict[str, Any], **body: Any) -> dict[str, Any]:
    body.setdefault("title", "A note")
    response = await client.post(NOTES, json=body, headers=user["headers"])
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def patch_note(
    client: httpx.AsyncClient, user: dict[str, Any], note: dict[str, Any], **body: Any
) -> httpx.Response:
    body.setdefault("baseVersion", note["version"])
    return await client.patch(f"{NOTES}/{note['id']}", json=body, headers=user["headers"])
