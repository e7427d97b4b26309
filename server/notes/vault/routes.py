"""Vault import/export routes: thin; the importer and exporter hold the rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import IO, Any

from litestar import Controller, Request, get, post
from litestar.response import Stream

from server.core.actor import Actor
from server.notes.rules import PayloadTooLarge
from server.notes.uploads.multipart import FilePart
from server.notes.uploads.routes import content_disposition
from server.notes.vault.exporter import VaultExporter
from server.notes.vault.importer import VaultImporter
from server.notes.vault.schemas import ImportView

CHUNK = 256 * 1024


async def file_chunks(spool: IO[bytes]) -> AsyncIterator[bytes]:
    try:
        while chunk := spool.read(CHUNK):
            yield chunk
    finally:
        spool.close()


class VaultController(Controller):
    path = "/api/v1"
    tags = ["notes"]

    @post(
        "/spaces/{space_id:str}/imports",
        status_code=202,
        summary="Import a ZIP vault of Markdown (multipart, field `file`) in the background",
        request_max_body_size=None,  # the importer bounds the stream itself
    )
    async def start_import(
        self,
        request: Request[Any, Any, Any],
        actor: Actor,
        importer: VaultImporter,
        space_id: str,
    ) -> ImportView:
        length = request.content_length
        if length is not None and length > importer.limits.max_bytes + 64 * 1024:
            raise PayloadTooLarge(
                f"A vault ZIP may be at most {importer.limits.max_bytes} bytes.",
                code="FILE_TOO_LARGE",
                details=[{"limit": importer.limits.max_bytes}],
            )
        part = FilePart(request.stream(), request.headers.get("content-type"))
        return await importer.start(actor, space_id, part)

    @get("/imports/{import_id:str}", summary="An import's status and progress")
    async def get_import(self, actor: Actor, importer: VaultImporter, import_id: str) -> ImportView:
        return await importer.get(actor, import_id)

    @get(
        "/spaces/{space_id:str}/export", summary="The space as a ZIP of Markdown with front matter"
    )
    async def export_space(self, actor: Actor, exporter: VaultExporter, space_id: str) -> Stream:
        name, spool = await exporter.export(actor, space_id)
        return Stream(
            file_chunks(spool),
            media_type="application/zip",
            headers={"Content-Disposition": content_disposition(name)},
        )
