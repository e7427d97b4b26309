"""Upload and download routes: thin; the manager streams, checks and stores."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, get, post
from litestar.response import Stream

from server.core.actor import Actor
from server.notes.rules import PayloadTooLarge
from server.notes.uploads.manager import DocumentManager
from server.notes.uploads.multipart import FilePart
from server.notes.uploads.schemas import DocumentView


def content_disposition(filename: str) -> str:
    """An ASCII fallback name plus the exact UTF-8 name (RFC 6266 / 5987)."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


class DocumentController(Controller):
    path = "/api/v1"
    tags = ["notes"]

    @post(
        "/spaces/{space_id:str}/documents",
        status_code=202,
        summary="Upload a file (multipart/form-data, field `file`); extracted in the background",
        # The app-wide body limit does not apply here: the manager streams the file and
        # stops at NOTES_UPLOAD_MAX_BYTES itself.
        request_max_body_size=None,
    )
    async def upload(
        self,
        request: Request[Any, Any, Any],
        actor: Actor,
        documents: DocumentManager,
        space_id: str,
    ) -> DocumentView:
        length = request.content_length
        if length is not None and length > documents.max_bytes + 64 * 1024:
            raise PayloadTooLarge(
                f"A file may be at most {documents.max_bytes} bytes.",
                code="FILE_TOO_LARGE",
                details=[{"limit": documents.max_bytes}],
            )
        part = FilePart(request.stream(), request.headers.get("content-type"))
        return await documents.upload(actor, space_id, part)

    @get("/documents/{document_id:str}", summary="An uploaded document and its status")
    async def get_document(
        self, actor: Actor, documents: DocumentManager, document_id: str
    ) -> DocumentView:
        return await documents.get(actor, document_id)

    @get("/documents/{document_id:str}/content", summary="Download the original file")
    async def download(self, actor: Actor, documents: DocumentManager, document_id: str) -> Stream:
        doc, body = await documents.download(actor, document_id)
        return Stream(
            body,
            media_type=doc.content_type,
            headers={
                "Content-Disposition": content_disposition(doc.filename),
                "Content-Length": str(doc.size),
                "X-Content-Type-Options": "nosniff",
            },
        )
