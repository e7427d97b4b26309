"""Every note and space route, generated from the app's route table (a new route without a
rule fails): in a workspace space a non-member gets 404 and a viewer 403 on writes (and can
read); in a family space a non-member gets 404; API tokens need notes:read / notes:write."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import assert_error
from tests.integration.groups_support import create_group, join, person
from tests.integration.notes_support import new_note, space_of
from tests.integration.vault_support import zip_of

pytestmark = pytest.mark.integration

PREFIXES = ("/api/v1/notes", "/api/v1/spaces", "/api/v1/documents", "/api/v1/imports")
TEXT_FILE = {"__file__": ("a.md", b"# hello", "text/markdown")}
ZIP_FILE = {"__file__": ("v.zip", zip_of({"a.md": "# a"}), "application/zip")}
# (method, route path) -> (kind of call, body). "read": every member may; "write": needs
# write on the space; "space-list": the caller's own list (no resource to hide).
RULES: dict[tuple[str, str], tuple[str, Any]] = {
    ("GET", "/api/v1/spaces"): ("space-list", None),
    ("GET", "/api/v1/spaces/{space_id:str}"): ("read", None),
    ("GET", "/api/v1/spaces/{space_id:str}/notes"): ("read", None),
    ("GET", "/api/v1/spaces/{space_id:str}/trash"): ("read", None),
    ("POST", "/api/v1/notes"): ("write", {"title": "From the matrix"}),
    ("GET", "/api/v1/notes/{note_id:str}"): ("read", None),
    ("PATCH", "/api/v1/notes/{note_id:str}"): ("write", {"body": "changed", "baseVersion": 1}),
    ("DELETE", "/api/v1/notes/{note_id:str}"): ("write", None),
    ("POST", "/api/v1/notes/{note_id:str}/restore"): ("write", None),
    ("POST", "/api/v1/notes/{note_id:str}/move"): ("write", {"spaceId": "@personal"}),
    ("GET", "/api/v1/notes/{note_id:str}/revisions"): ("read", None),
    ("GET", "/api/v1/notes/{note_id:str}/related"): ("read", None),  # search, same rights
    ("GET", "/api/v1/notes/{note_id:str}/revisions/{version:int}"): ("read", None),
    ("POST", "/api/v1/notes/{note_id:str}/revisions/{version:int}/restore"): (
        "write",
        {"baseVersion": 1},
    ),
    ("POST", "/api/v1/spaces/{space_id:str}/documents"): ("write", TEXT_FILE),
    ("GET", "/api/v1/documents/{document_id:str}"): ("read", None),
    ("GET", "/api/v1/documents/{document_id:str}/content"): ("read", None),
    ("POST", "/api/v1/spaces/{space_id:str}/imports"): ("write", ZIP_FILE),
    ("GET", "/api/v1/imports/{import_id:str}"): ("read", None),
    ("GET", "/api/v1/spaces/{space_id:str}/export"): ("read", None),
}


def note_routes(app: Any) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:
        if not route.path.startswith(PREFIXES):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                if method not in ("OPTIONS", "HEAD"):
                    found.add((method, route.path))
    return found


def concrete(path: str, space_id: str, note_id: str, ids: dict[str, str]) -> str:
    return (
        path.replace("{space_id:str}", space_id)
        .replace("{note_id:str}", note_id)
        .replace("{version:int}", "1")
        .replace("{document_id:str}", ids["document"])
        .replace("{import_id:str}", ids["import"])
    )


def body_for(body: Any, space_id: str, personal: str) -> Any:
    if body is None:
        return None
    body = dict(body)
    if body.get("spaceId") == "@personal":
        body["spaceId"] = personal
    return body


@pytest.mark.parametrize("kind", ["workspace", "family"])
async def test_note_routes_access_matrix(client, kind):
    routes = note_routes(client.app)
    assert routes == set(RULES), sorted(routes ^ set(RULES))
    owner = await person(client, "own")
    group = await create_group(client, owner, kind, name="Matrix group")
    reader = await person(client, "view")
    await join(
        client,
        kind,
        group["id"],
        owner,
        reader,
        **({"role": "viewer"} if kind == "workspace" else {}),
    )
    stranger = await person(client, "out")
    space = await space_of(client, owner, kind, group["id"])
    reader_personal = (await space_of(client, reader, "personal"))["id"]
    stranger_personal = (await space_of(client, stranger, "personal"))["id"]
    document = await client.post(
        f"/api/v1/spaces/{space['id']}/documents",
        files={"file": TEXT_FILE["__file__"]},
        headers=owner["headers"],
    )
    vault = await client.post(
        f"/api/v1/spaces/{space['id']}/imports",
        files={"file": ZIP_FILE["__file__"]},
        headers=owner["headers"],
    )
    ids = {"document": document.json()["id"], "import": vault.json()["id"]}
    calls = 0
    for (method, path), (level, body) in sorted(RULES.items()):
        note = await new_note(client, owner, title="Target", body="v1", spaceId=space["id"])
        if path.endswith("/restore") and "revisions" not in path:
            await client.delete(f"/api/v1/notes/{note['id']}", headers=owner["headers"])
        url = concrete(path, space["id"], note["id"], ids)
        if level == "space-list":
            listed = await client.get(url, headers=stranger["headers"])
            assert space["id"] not in {s["id"] for s in listed.json()["items"]}
            calls += 1
            continue
        for who, personal in ((stranger, stranger_personal), (reader, reader_personal)):
            payload = body_for(body, space["id"], personal)
            if method == "POST" and path == "/api/v1/notes" and payload is not None:
                payload = {**payload, "spaceId": space["id"]}
            kwargs: dict[str, Any] = {"json": payload} if payload is not None else {}
            if payload is not None and "__file__" in payload:
                kwargs = {"files": {"file": payload["__file__"]}}
            response = await client.request(method, url, headers=who["headers"], **kwargs)
            calls += 1
            if who is stranger:
                assert response.status_code == 404, (method, path, response.text)
            elif kind == "workspace" and level == "write":
                assert response.status_code == 403, (method, path, response.text)
            elif level == "read":
                assert response.status_code == 200, (method, path, response.text)
    assert calls >= 2 * (len(RULES) - 1)
    # Nothing the refused calls tried happened.
    page = (
        await client.get(f"/api/v1/spaces/{space['id']}/notes?limit=100", headers=owner["headers"])
    ).json()
    if kind == "workspace":
        assert all(n["title"] == "Target" and n["version"] == 1 for n in page["items"])


async def test_api_token_scopes_for_notes(client):
    me = await person(client)
    note = await new_note(client, me, title="Scoped")

    async def token(scopes: list[str]) -> dict[str, str]:
        response = await client.post(
            "/api/v1/auth/tokens", json={"name": "t", "scopes": scopes}, headers=me["headers"]
        )
        assert response.status_code == 201, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}

    read_only = await token(["notes:read"])
    assert (await client.get(f"/api/v1/notes/{note['id']}", headers=read_only)).status_code == 200
    assert_error(
        await client.post("/api/v1/notes", json={"title": "x"}, headers=read_only),
        403,
        "INSUFFICIENT_SCOPE",
    )
    other = await token(["wallet:read"])
    assert_error(
        await client.get(f"/api/v1/notes/{note['id']}", headers=other), 403, "INSUFFICIENT_SCOPE"
    )
    writer = await token(["notes:*"])
    made = await client.post("/api/v1/notes", json={"title": "x"}, headers=writer)
    assert made.status_code == 201, made.text
