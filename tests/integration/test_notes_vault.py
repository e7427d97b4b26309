"""Vault import/export: a real-looking vault imports as a background job with progress,
re-import updates instead of duplicating, export → import into an empty space round-trips
notes, tags, aliases, links and the image; bad ZIPs are a 4xx or a visible failure; a worker
killed mid-import resumes and is never left marked done."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta
from typing import Any

import pytest

from server import jobs
from server.core.clock import utcnow
from server.notes.documents import Note
from tests.helpers import assert_error, services
from tests.integration.groups_support import person
from tests.integration.notes_support import NOTES, SPACES, space_of
from tests.integration.vault_support import png_bytes, vault_zip, zip_of

pytestmark = pytest.mark.integration


async def start(client: Any, user: dict[str, Any], space: str, data: bytes) -> Any:
    return await client.post(
        f"{SPACES}/{space}/imports",
        files={"file": ("vault.zip", data, "application/zip")},
        headers=user["headers"],
    )


async def run_job(client: Any, import_id: str) -> str:
    return await jobs.import_vault({"services": services(client)}, import_id=import_id)


async def notes_of(client: Any, user: dict[str, Any], space_id: str) -> dict[str, dict[str, Any]]:
    """title -> the full note (body, tags, aliases, resolved links as titles)."""
    out: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        url = f"{SPACES}/{space_id}/notes?limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(url, headers=user["headers"])).json()
        for item in page["items"]:
            note = (await client.get(f"{NOTES}/{item['id']}", headers=user["headers"])).json()
            out[note["title"]] = note
        cursor = page["nextCursor"]
        if not cursor:
            return out


def shape(note: dict[str, Any]) -> dict[str, Any]:
    return {
        "body": note["body"],
        "tags": sorted(note["tags"]),
        "aliases": note["aliases"],
        "links": sorted((link["target"], link["alias"], link["title"]) for link in note["links"]),
    }


async def test_import_reimport_and_round_trip(client):
    me = await person(client)
    space = await space_of(client, me, "personal")
    bus = services(client).bus
    channel = f"user:{me['id']}"
    offset = (await bus.position(channel))[1]
    response = await start(client, me, "personal", vault_zip(60))
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued" and job["total"] == 61  # 60 notes + the image
    assert await run_job(client, job["id"]) == "completed"
    done = (await client.get(f"/api/v1/imports/{job['id']}", headers=me["headers"])).json()
    assert (done["created"], done["attachments"], done["failed"]) == (60, 1, 0), done
    events = [json.loads(raw) for raw in await bus.read_since(channel, offset)]
    progress = [e["data"]["done"] for e in events if e["type"] == "import.progress"]
    assert progress == [25, 50]
    assert [e["data"]["job"]["status"] for e in events if e["type"] == "import.completed"] == [
        "completed"
    ]
    imported = await notes_of(client, me, space["id"])
    assert len(imported) == 60
    n3 = imported["Note 3"]
    assert n3["sourcePath"] == "journal/2024/note-3.md"
    assert sorted(n3["tags"]) == ["group0", "topic/3", "vault"] and n3["aliases"] == ["alias-3"]
    links = {link["target"]: link["title"] for link in n3["links"]}
    assert links == {"Note 4": "Note 4", "Note 5": "Note 5"}
    assert {link["title"] for link in imported["Note 0"]["links"]} >= {"Note 3"}  # by alias

    # Re-import after an edit in the vault: one note updated, nothing duplicated.
    changed = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(vault_zip(60))) as src, zipfile.ZipFile(changed, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("/note-5.md"):
                data += b"\nAn added line.\n"
            dst.writestr(info.filename, data)
    again = (await start(client, me, "personal", changed.getvalue())).json()
    assert await run_job(client, again["id"]) == "completed"
    second = (await client.get(f"/api/v1/imports/{again['id']}", headers=me["headers"])).json()
    assert (second["created"], second["updated"], second["unchanged"]) == (0, 1, 59), second
    assert (
        await Note.get_pymongo_collection().count_documents(
            {"space_id": __import__("bson").ObjectId(space["id"])}
        )
        == 60
    )

    # Export, then import into an empty space: the same notes, tags, aliases and links.
    exported = await client.get(f"{SPACES}/{space['id']}/export", headers=me["headers"])
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        names = set(archive.namelist())
        assert "journal/2024/note-3.md" in names and "images/diagram.png" in names
        assert archive.read("images/diagram.png") == png_bytes()
        text = archive.read("journal/2024/note-3.md").decode()
        assert text.startswith("---\ntitle: Note 3\n") and "aliases:\n- alias-3\n" in text
    other = await person(client)
    target = await space_of(client, other, "personal")
    job3 = (await start(client, other, "personal", exported.content)).json()
    assert await run_job(client, job3["id"]) == "completed"
    copied = await notes_of(client, other, target["id"])
    originals = await notes_of(client, me, space["id"])
    assert set(copied) == set(originals)
    for title in originals:
        assert shape(copied[title]) == shape(originals[title]), title


async def test_bad_zips_are_refused_before_anything_is_kept(app_factory):
    async with app_factory(notes_import_max_expanded_bytes=5 * 1024 * 1024) as client:
        me = await person(client)
        cases = [
            (b"not a zip at all", 422, "INVALID_ZIP"),
            (zip_of({"../evil.md": "x"}), 422, "UNSAFE_PATH"),
            (zip_of({"/etc/passwd.md": "x"}), 422, "UNSAFE_PATH"),
            (zip_of({"bomb.md": b"\0" * (4 * 1024 * 1024)}), 422, "ZIP_BOMB"),
            (zip_of({f"n{i}.md": b"a" * 1_000_000 for i in range(6)}), 413, "ZIP_TOO_LARGE"),
        ]
        for data, status, code in cases:
            assert_error(await start(client, me, "personal", data), status, code)
        from server.notes.vault.documents import VaultImport

        assert await VaultImport.get_pymongo_collection().count_documents({}) == 0


async def test_invalid_front_matter_fails_that_file_visibly(client):
    me = await person(client)
    data = zip_of(
        {"good.md": "---\ntitle: Good\n---\nok", "bad.md": "---\ntitle: [unclosed\n---\nx"}
    )
    job = (await start(client, me, "personal", data)).json()
    assert await run_job(client, job["id"]) == "completed"
    done = (await client.get(f"/api/v1/imports/{job['id']}", headers=me["headers"])).json()
    assert done["created"] == 1 and done["failed"] == 1
    assert done["errors"][0]["path"] == "bad.md" and "YAML" in done["errors"][0]["error"]


async def test_worker_killed_mid_import_resumes_and_is_never_half_done(client, monkeypatch):
    me = await person(client)
    job = (await start(client, me, "personal", vault_zip(60, root=""))).json()
    importer = services(client).vault_import
    original = importer._progress

    async def killed(*args: Any) -> None:
        raise SystemExit("worker killed")

    monkeypatch.setattr(importer, "_progress", killed)
    with pytest.raises(SystemExit):
        await run_job(client, job["id"])
    half = (await client.get(f"/api/v1/imports/{job['id']}", headers=me["headers"])).json()
    assert half["status"] == "running"  # not done, and not re-taken while it looks alive
    assert await run_job(client, job["id"]) == "running"
    monkeypatch.setattr(importer, "_progress", original)
    importer.store.now = lambda: utcnow() + timedelta(minutes=11)
    assert await run_job(client, job["id"]) == "completed"
    done = (await client.get(f"/api/v1/imports/{job['id']}", headers=me["headers"])).json()
    assert (done["created"], done["unchanged"], done["failed"]) == (35, 25, 0), done
    space = await space_of(client, me, "personal")
    assert space["noteCount"] == 60
