"""Uploaded documents: streamed into GridFS as uploaded, then turned by a worker job into a
read-only document note with page markers (`uploaded -> processing -> ready | failed`).

The upload never holds the file in memory: chunks go to GridFS as they arrive, the byte
limit and the declared type are checked on the way (413 / 415 before anything is kept).
The note and the `ready` status commit in one transaction, so a document is never `ready`
without its note, and a worker killed mid-way leaves `processing`, which the next run of the
job (SAQ retry, or the sweep) takes over.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import PurePosixPath
from typing import Any

from beanie import PydanticObjectId
from bson import ObjectId
from gridfs import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo.asynchronous.client_session import AsyncClientSession

from server.core.actor import Actor
from server.core.errors import DomainError, NotFound, Unprocessable
from server.notes.documents import Note
from server.notes.rules import PayloadTooLarge
from server.notes.store import NoteStore, Pending, oid
from server.notes.uploads.documents import UploadedDocument
from server.notes.uploads.extract import (
    MEDIA_TYPES,
    Extracted,
    ExtractionError,
    declared_kind,
    extract,
    matches,
)
from server.notes.uploads.multipart import FilePart
from server.notes.uploads.schemas import DocumentStatusChanged, DocumentView
from server.notes.writer import Draft, NoteWriter
from server.spaces.manager import SpaceAccess

SNIFF_BYTES = 512
STALE_PROCESSING = timedelta(minutes=15)
Enqueue = Callable[[str], Awaitable[None]]


class UnsupportedMediaType(DomainError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


def document_not_found() -> NotFound:
    return NotFound("No such document.", code="DOCUMENT_NOT_FOUND")


def view(d: UploadedDocument) -> DocumentView:
    return DocumentView(
        id=str(d.id),
        space_id=str(d.space_id),
        filename=d.filename,
        content_type=d.content_type,
        kind=d.kind,
        size=d.size,
        sha256=d.sha256,
        status=d.status,
        error=d.error,
        note_id=str(d.note_id) if d.note_id else None,
        pages=d.pages,
        page_starts=list(d.page_starts),
        truncated=d.truncated,
        uploaded_by=str(d.uploaded_by),
        created_at=d.created_at,
        updated_at=d.updated_at,
    )


def safe_filename(name: str) -> str:
    base = PurePosixPath(name.replace("\\", "/")).name.strip() or "upload"
    return "".join(ch for ch in base if ch.isprintable() and ch not in '"')[:200]


class DocumentManager:
    def __init__(self, store: NoteStore, *, max_bytes: int, enqueue: Enqueue | None) -> None:
        self.store = store
        self.writer = NoteWriter(store)
        self.max_bytes = max_bytes
        self.enqueue = enqueue

    def _bucket(self) -> AsyncGridFSBucket:
        database = UploadedDocument.get_pymongo_collection().database
        return AsyncGridFSBucket(database, bucket_name="uploads")

    async def _load(self, actor: Actor, document_id: str) -> tuple[UploadedDocument, SpaceAccess]:
        did = oid(document_id)
        raw = (
            await UploadedDocument.get_pymongo_collection().find_one({"_id": did}) if did else None
        )
        if raw is None:
            raise document_not_found()
        doc = UploadedDocument.model_validate(raw)
        space = await self.store.spaces.find(doc.space_id)
        access = await self.store.spaces.access_to(actor, space) if space else None
        if access is None:
            raise document_not_found()
        return doc, access

    async def _publish(self, doc: UploadedDocument, access_space: Any) -> None:
        pending = Pending([])
        pending.publish(access_space, "document.status_changed", DocumentStatusChanged(view(doc)))
        for channel, type_, data in pending.events:
            await self.store.bus.publish(channel, type_, data)

    # ------------------------------------------------------------------ upload

    async def upload(
        self,
        actor: Actor,
        space_id: str,
        part: FilePart,
    ) -> DocumentView:
        self.store.require_write(actor)
        access = await self.store.spaces.resolve(actor, space_id)
        access.require_write()
        await part.open()
        filename = safe_filename(part.filename)
        kind = declared_kind(filename, part.content_type)
        if kind is None:
            raise UnsupportedMediaType(
                "Upload PDF, DOCX, PPTX, HTML, Markdown or plain text.",
                details=[{"filename": filename, "contentType": part.content_type}],
            )
        digest = hashlib.sha256()
        size = 0
        head = b""
        grid_in = self._bucket().open_upload_stream(filename, metadata={"kind": kind})
        try:
            async for chunk in part.chunks():
                size += len(chunk)
                if size > self.max_bytes:
                    raise PayloadTooLarge(
                        f"A file may be at most {self.max_bytes} bytes.",
                        code="FILE_TOO_LARGE",
                        details=[{"limit": self.max_bytes}],
                    )
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                    if len(head) >= SNIFF_BYTES:
                        self._check_type(kind, head)
                digest.update(chunk)
                await grid_in.write(chunk)
            if size == 0:
                raise Unprocessable("The file is empty.", code="EMPTY_FILE")
            self._check_type(kind, head)
            await grid_in.close()
        except BaseException:
            await grid_in.abort()
            raise
        file_id = grid_in._id
        doc = UploadedDocument(
            space_id=access.space_id,
            filename=filename,
            content_type=MEDIA_TYPES[kind],
            kind=kind,
            size=size,
            sha256=digest.hexdigest(),
            file_id=PydanticObjectId(file_id),
            uploaded_by=PydanticObjectId(actor.user_id),
            created_at=self.store.now(),
            updated_at=self.store.now(),
        )

        async def work(session: AsyncClientSession, pending: Pending) -> None:
            await self.store.take_quota(access.space_id, 0, size, session)
            doc.id = None
            await doc.insert(session=session)
            pending.publish(
                access.space, "document.status_changed", DocumentStatusChanged(view(doc))
            )

        try:
            await self.store.commit(work)
        except BaseException:
            await self._bucket().delete(file_id)
            raise
        if self.enqueue is not None:
            await self.enqueue(str(doc.id))
        return view(doc)

    @staticmethod
    def _check_type(kind: str, head: bytes) -> None:
        if head and not matches(kind, head):
            raise UnsupportedMediaType(
                f"The file's content is not {kind.upper()} as declared.",
                code="CONTENT_TYPE_MISMATCH",
                details=[{"declared": kind}],
            )

    # ------------------------------------------------------------------ reads

    async def get(self, actor: Actor, document_id: str) -> DocumentView:
        self.store.require_read(actor)
        doc, _ = await self._load(actor, document_id)
        return view(doc)

    async def download(
        self, actor: Actor, document_id: str
    ) -> tuple[UploadedDocument, AsyncIterator[bytes]]:
        """The original file's record and its bytes, streamed from GridFS."""
        self.store.require_read(actor)
        doc, _ = await self._load(actor, document_id)
        try:
            grid_out = await self._bucket().open_download_stream(doc.file_id)
        except NoFile as exc:
            raise document_not_found() from exc

        async def body() -> AsyncIterator[bytes]:
            while chunk := await grid_out.readchunk():
                yield chunk

        return doc, body()

    # ------------------------------------------------------------------ processing

    async def process(self, document_id: str) -> str:
        """The worker job: extract the text into a document note. Returns the final status.
        Safe to run twice: a `ready` or `failed` document is left alone; a `processing` one
        is taken over only once it is stale (its worker died)."""
        collection = UploadedDocument.get_pymongo_collection()
        now = self.store.now()
        raw = await collection.find_one_and_update(
            {
                "_id": ObjectId(document_id),
                "$or": [
                    {"status": "uploaded"},
                    {"status": "processing", "updated_at": {"$lt": now - STALE_PROCESSING}},
                ],
            },
            {"$set": {"status": "processing", "updated_at": now}, "$inc": {"attempts": 1}},
            return_document=True,
        )
        if raw is None:
            current = await collection.find_one({"_id": ObjectId(document_id)}, {"status": 1})
            return str(current["status"]) if current else "missing"
        doc = UploadedDocument.model_validate(raw)
        space = await self.store.spaces.find(doc.space_id)
        if space is None:
            return await self._fail(doc, None, "The space no longer exists.")
        await self._publish(doc, space)
        uploader = Actor(user_id=doc.uploaded_by, username="", channel="system")
        access = await self.store.spaces.access_to(uploader, space)
        if access is None or not access.can_write:
            return await self._fail(doc, space, "The uploader can no longer write in this space.")
        try:
            data = await self._read(doc)
            extracted = await asyncio.to_thread(extract, doc.kind, data)
        except ExtractionError as exc:
            return await self._fail(doc, space, str(exc))
        return await self._make_note(doc, uploader, access, extracted)

    async def _read(self, doc: UploadedDocument) -> bytes:
        grid_out = await self._bucket().open_download_stream(doc.file_id)
        return await grid_out.read()

    async def _make_note(
        self, doc: UploadedDocument, uploader: Actor, access: SpaceAccess, extracted: Extracted
    ) -> str:
        body = extracted.text
        limit = self.store.config.max_body_bytes
        truncated = len(body.encode("utf-8")) > limit
        if truncated:
            body = body.encode("utf-8")[: limit - 64].decode("utf-8", "ignore")
            body += "\n\n<!-- truncated -->\n"
        starts = [s for s in extracted.page_starts if s < len(body)]
        title = PurePosixPath(doc.filename).stem[:200] or "Document"
        draft = Draft(title, body, [], [], False, extra={"document_id": doc.id})

        async def finish(note: Note, session: AsyncClientSession, pending: Pending) -> None:
            done = await UploadedDocument.get_pymongo_collection().find_one_and_update(
                {"_id": doc.id, "status": "processing"},
                {
                    "$set": {
                        "status": "ready",
                        "error": None,
                        "note_id": note.id,
                        "pages": len(starts),
                        "page_starts": starts,
                        "truncated": truncated,
                        "updated_at": self.store.now(),
                    }
                },
                return_document=True,
                session=session,
            )
            if done is None:
                raise Unprocessable("The document changed meanwhile.", code="DOCUMENT_BUSY")
            ready = UploadedDocument.model_validate(done)
            pending.publish(
                access.space, "document.status_changed", DocumentStatusChanged(view(ready))
            )

        try:
            await self.writer.create(
                uploader, access, draft, kind="document", read_only=True, session_work=finish
            )
        except DomainError as exc:
            return await self._fail(doc, access.space, exc.message)
        return "ready"

    async def _fail(self, doc: UploadedDocument, space: Any, reason: str) -> str:
        raw = await UploadedDocument.get_pymongo_collection().find_one_and_update(
            {"_id": doc.id, "status": "processing"},
            {"$set": {"status": "failed", "error": reason, "updated_at": self.store.now()}},
            return_document=True,
        )
        if raw is not None and space is not None:
            await self._publish(UploadedDocument.model_validate(raw), space)
        return "failed"
