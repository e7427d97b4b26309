"""Export a space as a ZIP of Markdown files with YAML front matter and its attachments.

A note goes back to the vault path it was imported from; other notes are named after their
title (made safe for file systems, `Title (2).md` on a clash). Importing the ZIP into an
empty space gives the same notes, tags, aliases and links (the round-trip test).
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import zipfile
from typing import IO

from gridfs import AsyncGridFSBucket

from server.core.actor import Actor
from server.notes.documents import Note
from server.notes.store import NoteStore
from server.notes.vault.documents import Attachment
from server.notes.vault.frontmatter import render

_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def file_name(title: str) -> str:
    name = _UNSAFE.sub(" ", title).strip(" .") or "Untitled"
    return name[:120]


class VaultExporter:
    def __init__(self, store: NoteStore) -> None:
        self.store = store

    def bucket(self) -> AsyncGridFSBucket:
        return AsyncGridFSBucket(
            Attachment.get_pymongo_collection().database, bucket_name="uploads"
        )

    async def export(self, actor: Actor, space_id: str) -> tuple[str, IO[bytes]]:
        """(download name, a temporary file holding the ZIP, positioned at 0)."""
        self.store.require_read(actor)
        access = await self.store.spaces.resolve(actor, space_id)
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - the route streams and closes it
        used: set[str] = set()
        try:
            with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                cursor = (
                    Note.get_pymongo_collection()
                    .find({"space_id": access.space_id, "deleted_at": None})
                    .sort("_id", 1)
                )
                async for raw in cursor:
                    note = Note.model_validate(raw)
                    path = self._path(note, used)
                    text = render(
                        title=note.title,
                        tags=list(note.tags),
                        aliases=list(note.aliases),
                        created=note.created_at,
                        updated=note.updated_at,
                        body=note.body,
                    )
                    await asyncio.to_thread(archive.writestr, path, text)
                async for att in (
                    Attachment.get_pymongo_collection()
                    .find({"space_id": access.space_id})
                    .sort("path", 1)
                ):
                    if att["path"].lower() in used:
                        continue
                    grid_out = await self.bucket().open_download_stream(att["file_id"])
                    data = await grid_out.read()
                    await asyncio.to_thread(archive.writestr, att["path"], data)
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        name = file_name(access.space.name or access.space.kind) + ".zip"
        return name, spool

    @staticmethod
    def _path(note: Note, used: set[str]) -> str:
        if note.source_path and note.source_path.lower() not in used:
            path = note.source_path
        else:
            stem = file_name(note.title)
            path, n = f"{stem}.md", 2
            while path.lower() in used:
                path, n = f"{stem} ({n}).md", n + 1
        used.add(path.lower())
        return path
