"""Vault import: a ZIP of Markdown (Obsidian/Logseq style) into a space, as a worker job.

The upload is streamed to a temporary file (never memory), its central directory checked
(`zipcheck`) so a bad archive is a 4xx before anything is kept, then stored in GridFS and
handed to the `import_vault` job. The job writes every note through the notes writer (so
every limit, quota and event applies), keyed on the vault path: importing the same vault
again updates changed notes and leaves the rest alone, which is also how a run whose worker
died resumes. `completed` is written only after the last file.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import tempfile
import zipfile
from datetime import timedelta
from pathlib import PurePosixPath
from typing import IO, Any

from beanie import PydanticObjectId
from bson import ObjectId
from gridfs import AsyncGridFSBucket
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from server.core.actor import Actor
from server.core.errors import DomainError, NotFound
from server.notes.documents import Note
from server.notes.rules import PayloadTooLarge
from server.notes.store import NoteStore, Pending, oid
from server.notes.uploads.manager import Enqueue
from server.notes.uploads.multipart import FilePart
from server.notes.vault.documents import Attachment, VaultImport
from server.notes.vault.frontmatter import FrontMatterError, parse
from server.notes.vault.schemas import ImportCompleted, ImportProgress, ImportView
from server.notes.vault.zipcheck import Entry, VaultError, check
from server.notes.writer import Draft, NoteWriter
from server.spaces.documents import Space
from server.spaces.manager import SpaceAccess, space_channel

STALE_RUNNING = timedelta(minutes=10)
PROGRESS_EVERY = 25
MAX_ERRORS = 100
COPY_CHUNK = 255 * 1024


class ImportLimits:
    def __init__(self, *, max_bytes: int, max_files: int, max_expanded_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.max_expanded_bytes = max_expanded_bytes


def import_view(j: VaultImport) -> ImportView:
    return ImportView(
        id=str(j.id),
        space_id=str(j.space_id),
        filename=j.filename,
        size=j.size,
        status=j.status,
        total=j.total,
        done=j.done,
        created=j.created,
        updated=j.updated,
        unchanged=j.unchanged,
        attachments=j.attachments,
        failed=j.failed,
        errors=list(j.errors),
        error=j.error,
        created_at=j.created_at,
        updated_at=j.updated_at,
    )


def vault_error(exc: VaultError) -> DomainError:
    error = DomainError(exc.message, code=exc.code)
    error.status_code = exc.status
    return error


class VaultImporter:
    def __init__(
        self, store: NoteStore, limits: ImportLimits, enqueue: Enqueue | None = None
    ) -> None:
        self.store = store
        self.writer = NoteWriter(store)
        self.limits = limits
        self.enqueue = enqueue

    def bucket(self) -> AsyncGridFSBucket:
        database = VaultImport.get_pymongo_collection().database
        return AsyncGridFSBucket(database, bucket_name="uploads")

    # ------------------------------------------------------------------ start

    async def start(self, actor: Actor, space_id: str, part: FilePart) -> ImportView:
        self.store.require_write(actor)
        access = await self.store.spaces.resolve(actor, space_id)
        access.require_write()
        await part.open()
        filename = PurePosixPath(part.filename.replace("\\", "/")).name[:200]
        with tempfile.TemporaryFile() as spool:
            size = 0
            async for chunk in part.chunks():
                size += len(chunk)
                if size > self.limits.max_bytes:
                    raise PayloadTooLarge(
                        f"A vault ZIP may be at most {self.limits.max_bytes} bytes.",
                        code="FILE_TOO_LARGE",
                        details=[{"limit": self.limits.max_bytes}],
                    )
                await asyncio.to_thread(spool.write, chunk)
            try:
                entries = await asyncio.to_thread(self._check, spool)
            except VaultError as exc:
                raise vault_error(exc) from exc
            spool.seek(0)
            file_id = await self.bucket().upload_from_stream(filename or "vault.zip", spool)
        job = VaultImport(
            space_id=access.space_id,
            file_id=PydanticObjectId(file_id),
            filename=filename or "vault.zip",
            size=size,
            total=len(entries),
            started_by=PydanticObjectId(actor.user_id),
            created_at=self.store.now(),
            updated_at=self.store.now(),
        )
        await job.insert()
        if self.enqueue is not None:
            await self.enqueue(str(job.id))
        return import_view(job)

    def _check(self, file: IO[bytes]) -> list[Entry]:
        file.seek(0)
        return check(
            file,
            max_files=self.limits.max_files,
            max_expanded_bytes=self.limits.max_expanded_bytes,
        )

    async def get(self, actor: Actor, import_id: str) -> ImportView:
        self.store.require_read(actor)
        iid = oid(import_id)
        raw = await VaultImport.get_pymongo_collection().find_one({"_id": iid}) if iid else None
        job = VaultImport.model_validate(raw) if raw else None
        space = await self.store.spaces.find(job.space_id) if job else None
        if job is None or space is None or await self.store.spaces.access_to(actor, space) is None:
            raise NotFound("No such import.", code="IMPORT_NOT_FOUND")
        return import_view(job)

    # ------------------------------------------------------------------ the job

    async def process(self, import_id: str) -> str:
        collection = VaultImport.get_pymongo_collection()
        now = self.store.now()
        raw = await collection.find_one_and_update(
            {
                "_id": ObjectId(import_id),
                "$or": [
                    {"status": "queued"},
                    {"status": "running", "updated_at": {"$lt": now - STALE_RUNNING}},
                ],
            },
            {"$set": {"status": "running", "updated_at": now}, "$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if raw is None:
            current = await collection.find_one({"_id": ObjectId(import_id)}, {"status": 1})
            return str(current["status"]) if current else "missing"
        job = VaultImport.model_validate(raw)
        space = await self.store.spaces.find(job.space_id)
        actor = Actor(user_id=job.started_by, username="", channel="system")
        access = await self.store.spaces.access_to(actor, space) if space else None
        if space is None or access is None or not access.can_write:
            return await self._finish(
                job, space, "failed", "The importer can no longer write here."
            )
        with tempfile.TemporaryFile() as spool:
            grid_out = await self.bucket().open_download_stream(job.file_id)
            while chunk := await grid_out.readchunk():
                await asyncio.to_thread(spool.write, chunk)
            try:
                entries = await asyncio.to_thread(self._check, spool)
            except VaultError as exc:
                return await self._finish(job, space, "failed", exc.message)
            spool.seek(0)
            with zipfile.ZipFile(spool) as archive:
                counts = await self._import_all(job, actor, access, archive, entries)
        return await self._finish(job, space, "completed", None, counts)

    async def _import_all(
        self,
        job: VaultImport,
        actor: Actor,
        access: SpaceAccess,
        archive: zipfile.ZipFile,
        entries: list[Entry],
    ) -> dict[str, Any]:
        counts: dict[str, Any] = {
            "total": len(entries),
            "done": 0,
            "created": 0,
            "updated": 0,
            "unchanged": 0,
            "attachments": 0,
            "failed": 0,
            "errors": [],
        }
        # Notes first, so links resolve; attachments after.
        for entry in sorted(entries, key=lambda e: (not e.is_note, e.path)):
            try:
                outcome = await (
                    self._note(actor, access, archive, entry)
                    if entry.is_note
                    else self._attachment(access, archive, entry)
                )
                counts[outcome] += 1
            except (DomainError, FrontMatterError, UnicodeDecodeError, VaultError) as exc:
                counts["failed"] += 1
                if len(counts["errors"]) < MAX_ERRORS:
                    reason = getattr(exc, "message", None) or str(exc)
                    counts["errors"].append({"path": entry.path, "error": reason[:300]})
            counts["done"] += 1
            if counts["done"] % PROGRESS_EVERY == 0:
                await self._progress(job, access.space, counts)
        return counts

    async def _progress(self, job: VaultImport, space: Space, counts: dict[str, Any]) -> None:
        """A heartbeat (keeps a live run from looking stale) and an `import.progress` event."""
        await VaultImport.get_pymongo_collection().update_one(
            {"_id": job.id, "status": "running"},
            {"$set": {**counts, "updated_at": self.store.now()}},
        )
        pending = Pending([])
        pending.publish(
            space,
            "import.progress",
            ImportProgress(
                str(job.id), str(job.space_id), counts["total"], counts["done"], counts["failed"]
            ),
        )
        for channel, type_, data in pending.events:
            await self.store.bus.publish(channel, type_, data)

    def _read(self, archive: zipfile.ZipFile, entry: Entry, limit: int) -> bytes:
        with archive.open(entry.name) as member:
            data = member.read(limit + 1)
        if len(data) > limit:
            raise VaultError("FILE_TOO_LARGE", f"larger than {limit} bytes")
        return data

    async def _note(
        self, actor: Actor, access: SpaceAccess, archive: zipfile.ZipFile, entry: Entry
    ) -> str:
        data = await asyncio.to_thread(
            self._read, archive, entry, self.store.config.max_body_bytes + 64 * 1024
        )
        parsed = parse(data.decode("utf-8"))
        title = (parsed.title or PurePosixPath(entry.path).stem)[:200]
        draft = Draft(title, parsed.body, parsed.tags, parsed.aliases, False)
        # By the (space, path) index alone: a trashed note with that path is not matched.
        candidates = await (
            Note.get_pymongo_collection()
            .find({"space_id": access.space_id, "source_path": entry.path})
            .to_list()
        )
        raw = next((r for r in candidates if r.get("deleted_at") is None), None)
        if raw is None:
            draft.extra = {"source_path": entry.path}
            await self.writer.create(actor, access, draft)
            return "created"
        note = Note.model_validate(raw)
        before = self.writer.stored_fields(
            Draft(note.title, note.body, note.own_tags, note.aliases, note.pinned)
        )
        draft.pinned = note.pinned
        after = self.writer.stored_fields(draft)
        if all(before[k] == after[k] for k in ("title", "body", "own_tags", "aliases")):
            return "unchanged"
        await self.writer.change(actor, note, access, draft, note.version)
        return "updated"

    async def _attachment(self, access: SpaceAccess, archive: zipfile.ZipFile, entry: Entry) -> str:
        data = await asyncio.to_thread(self._read, archive, entry, self.limits.max_expanded_bytes)
        digest = hashlib.sha256(data).hexdigest()
        collection = Attachment.get_pymongo_collection()
        existing = await collection.find_one({"space_id": access.space_id, "path": entry.path})
        if existing is not None and existing["sha256"] == digest:
            return "attachments"
        file_id = await self.bucket().upload_from_stream(entry.path, data)
        media = mimetypes.guess_type(entry.path)[0] or "application/octet-stream"

        async def work(session: AsyncClientSession, _: Pending) -> None:
            delta = len(data) - (existing["size"] if existing else 0)
            if delta > 0:
                await self.store.take_quota(access.space_id, 0, delta, session)
            elif delta < 0:
                await self.store.release_quota(access.space_id, 0, -delta, session)
            await collection.update_one(
                {"space_id": access.space_id, "path": entry.path},
                {
                    "$set": {
                        "file_id": file_id,
                        "size": len(data),
                        "sha256": digest,
                        "content_type": media,
                    },
                    "$setOnInsert": {"created_at": self.store.now()},
                },
                upsert=True,
                session=session,
            )

        try:
            await self.store.commit(work)
        except BaseException:
            await self.bucket().delete(file_id)
            raise
        if existing is not None:
            await self.bucket().delete(existing["file_id"])
        return "attachments"

    async def _finish(
        self,
        job: VaultImport,
        space: Space | None,
        status: str,
        error: str | None,
        counts: dict[str, Any] | None = None,
    ) -> str:
        raw = await VaultImport.get_pymongo_collection().find_one_and_update(
            {"_id": job.id, "status": "running"},
            {
                "$set": {
                    **(counts or {}),
                    "status": status,
                    "error": error,
                    "updated_at": self.store.now(),
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if raw is not None and space is not None:
            done = VaultImport.model_validate(raw)
            await self.store.bus.publish(
                space_channel(space), "import.completed", ImportCompleted(import_view(done))
            )
        return status
