"""Uploaded documents: streamed into GridFS, extracted by the worker job into a read-only
document note with page markers, downloadable as uploaded; bad input is a documented 4xx or
a visible `failed` status. The PDF and DOCX are written here by fpdf2 and python-docx."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from server import jobs
from tests.helpers import assert_error, services
from tests.integration.groups_support import create_group, join, person
from tests.integration.notes_support import NOTES, patch_note, space_of

pytestmark = pytest.mark.integration

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def make_pdf(pages: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for number in range(1, pages + 1):
        pdf.add_page()
        pdf.cell(0, 10, f"Chapter {number}: the harbour opens at {number + 6} o'clock.")
    return bytes(pdf.output())


def make_docx() -> bytes:
    import docx
    from docx.enum.text import WD_BREAK

    document = docx.Document()
    document.add_heading("Meeting minutes", level=1)
    document.add_paragraph("We agreed on the budget.")
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    document.add_paragraph("Second page: action items.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


async def upload(
    client: Any, user: dict[str, Any], space: str, name: str, data: bytes, media: str
) -> Any:
    return await client.post(
        f"/api/v1/spaces/{space}/documents",
        files={"file": (name, data, media)},
        headers=user["headers"],
    )


async def run_worker(client: Any, document_id: str) -> str:
    """What the SAQ worker does for the enqueued job."""
    return await jobs.extract_document({"services": services(client)}, document_id=document_id)


async def test_pdf_becomes_a_read_only_note_with_page_numbers(client):
    me = await person(client)
    data = make_pdf(3)
    response = await upload(client, me, "personal", "harbour.pdf", data, PDF)
    assert response.status_code == 202, response.text
    doc = response.json()
    assert doc["status"] == "uploaded" and doc["size"] == len(data) and doc["kind"] == "pdf"
    bus = services(client).bus
    channel = f"user:{me['id']}"
    offset = (await bus.position(channel))[1]
    assert await run_worker(client, doc["id"]) == "ready"
    statuses = [
        json.loads(raw)["data"]["document"]["status"]
        for raw in await bus.read_since(channel, offset)
        if json.loads(raw)["type"] == "document.status_changed"
    ]
    assert statuses == ["processing", "ready"]
    ready = (await client.get(f"/api/v1/documents/{doc['id']}", headers=me["headers"])).json()
    assert ready["pages"] == 3 and ready["noteId"]
    note = (await client.get(f"{NOTES}/{ready['noteId']}", headers=me["headers"])).json()
    assert note["kind"] == "document" and note["readOnly"] and note["title"] == "harbour"
    body = note["body"]
    for page in (1, 2, 3):
        marker = body.index(f"<!-- page {page} -->")
        assert marker == ready["pageStarts"][page - 1]
        assert f"Chapter {page}: the harbour opens at {page + 6}" in body[marker:]
    # Read-only: its text comes from the file.
    assert_error(await patch_note(client, me, note, body="edited"), 409, "NOTE_READ_ONLY")
    assert (await patch_note(client, me, note, pinned=True)).status_code == 200
    # The original comes back byte for byte with its content type.
    original = await client.get(f"/api/v1/documents/{doc['id']}/content", headers=me["headers"])
    assert original.status_code == 200 and original.content == data
    assert original.headers["content-type"].startswith(PDF)
    assert "harbour.pdf" in original.headers["content-disposition"]
    # Running the job again changes nothing.
    assert await run_worker(client, doc["id"]) == "ready"


async def test_docx_text_with_page_breaks(client):
    me = await person(client)
    response = await upload(client, me, "personal", "minutes.docx", make_docx(), DOCX)
    assert response.status_code == 202, response.text
    assert await run_worker(client, response.json()["id"]) == "ready"
    doc = (
        await client.get(f"/api/v1/documents/{response.json()['id']}", headers=me["headers"])
    ).json()
    body = (await client.get(f"{NOTES}/{doc['noteId']}", headers=me["headers"])).json()["body"]
    assert doc["pages"] == 2
    first, second = body.split("<!-- page 2 -->")
    assert "# Meeting minutes" in first and "We agreed on the budget." in first
    assert "Second page: action items." in second


async def test_bad_uploads(app_factory):
    async with app_factory(notes_upload_max_bytes=4096) as client:
        me = await person(client)
        assert_error(await upload(client, me, "personal", "e.pdf", b"", PDF), 422, "EMPTY_FILE")
        assert_error(
            await upload(client, me, "personal", "big.txt", b"x" * 5000, "text/plain"),
            413,
            "FILE_TOO_LARGE",
        )
        assert_error(
            await upload(client, me, "personal", "fake.pdf", b"hello, not a pdf", PDF),
            415,
            "CONTENT_TYPE_MISMATCH",
        )
        assert_error(
            await upload(
                client, me, "personal", "x.exe", b"MZ\x00\x00", "application/x-msdownload"
            ),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        )
        not_multipart = await client.post(
            "/api/v1/spaces/personal/documents", content=b"raw", headers=me["headers"]
        )
        assert_error(not_multipart, 400, "MULTIPART_REQUIRED")
        # A corrupt PDF passes the magic check but fails visibly in the worker.
        corrupt = await upload(client, me, "personal", "broken.pdf", b"%PDF-1.7\n garbage", PDF)
        assert corrupt.status_code == 202
        assert await run_worker(client, corrupt.json()["id"]) == "failed"
        failed = (
            await client.get(f"/api/v1/documents/{corrupt.json()['id']}", headers=me["headers"])
        ).json()
        assert (
            failed["status"] == "failed" and "PDF" in failed["error"] and failed["noteId"] is None
        )
        from server.notes.uploads.documents import UploadedDocument

        # Nothing half-written: only the corrupt upload was kept (refused ones left no record).
        assert await UploadedDocument.get_pymongo_collection().count_documents({}) == 1
        files = services(client).mongo[client.app.state["settings"].mongodb_db]["uploads.files"]
        assert await files.count_documents({}) == 1


async def test_viewer_cannot_upload_and_strangers_cannot_download(client):
    owner = await person(client)
    ws = await create_group(client, owner, "workspace", name="Docs team")
    viewer = await person(client)
    await join(client, "workspace", ws["id"], owner, viewer, role="viewer")
    space = await space_of(client, owner, "workspace", ws["id"])
    assert_error(
        await upload(client, viewer, space["id"], "a.txt", b"hello", "text/plain"),
        403,
        "SPACE_READ_ONLY",
    )
    doc = (
        await upload(client, owner, space["id"], "a.md", b"# Hi\n\nthere", "text/markdown")
    ).json()
    stranger = await person(client)
    assert_error(
        await client.get(f"/api/v1/documents/{doc['id']}/content", headers=stranger["headers"]),
        404,
        "DOCUMENT_NOT_FOUND",
    )
    ok = await client.get(f"/api/v1/documents/{doc['id']}/content", headers=viewer["headers"])
    assert ok.status_code == 200 and ok.content == b"# Hi\n\nthere"
