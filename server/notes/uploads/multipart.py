"""Streaming `multipart/form-data`: the file part reaches the caller chunk by chunk as the
request body arrives (never the whole file in memory), parsed by `multipart`'s push parser."""

from __future__ import annotations

from collections.abc import AsyncIterator

from multipart import MultipartSegment, ParserError, PushMultipartParser

from server.core.errors import BadRequest

MAX_FIELD_BYTES = 64 * 1024


def boundary_of(content_type: str | None) -> bytes:
    media, _, params = (content_type or "").partition(";")
    if media.strip().lower() != "multipart/form-data":
        raise BadRequest(
            "Upload the file as multipart/form-data (field `file`).", code="MULTIPART_REQUIRED"
        )
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1")
    raise BadRequest("The multipart boundary is missing.", code="MULTIPART_REQUIRED")


class FilePart:
    """The first part with a filename; `chunks()` streams its bytes."""

    def __init__(self, stream: AsyncIterator[bytes], content_type: str | None) -> None:
        self._stream = stream
        self._content_type = content_type
        self._parser: PushMultipartParser | None = None
        self._pending: list[MultipartSegment | bytearray | None] = []
        self.filename = ""
        self.content_type: str | None = None

    async def _events(self) -> AsyncIterator[MultipartSegment | bytearray | None]:
        try:
            while True:
                while self._pending:
                    yield self._pending.pop(0)
                assert self._parser is not None, "open() first"
                if self._parser.closed:
                    return
                chunk = await anext(self._stream, b"")
                self._pending.extend(self._parser.parse(chunk))
                if not chunk and not self._pending and not self._parser.closed:
                    raise BadRequest("The multipart body ended early.", code="INVALID_MULTIPART")
        except ParserError as exc:
            raise BadRequest(f"Invalid multipart body: {exc}", code="INVALID_MULTIPART") from exc

    async def open(self) -> None:
        """Read up to the file part's headers (other fields before it: at most 64 KiB).
        Called by the manager after its access checks, so a stranger gets 404, not 400."""
        self._parser = PushMultipartParser(boundary_of(self._content_type), max_segment_count=5)
        before = 0
        async for event in self._events():
            if isinstance(event, bytearray):
                before += len(event)
                if before > MAX_FIELD_BYTES:
                    raise BadRequest("Form fields are too large.", code="INVALID_MULTIPART")
            if isinstance(event, MultipartSegment) and event.filename is not None:
                self.filename = event.filename
                self.content_type = event.content_type
                return
        raise BadRequest("No file in the upload (field `file`).", code="FILE_REQUIRED")

    async def chunks(self) -> AsyncIterator[bytes]:
        async for event in self._events():
            if event is None:  # the end of the file part
                return
            if isinstance(event, MultipartSegment):
                raise BadRequest("Upload one file per request.", code="INVALID_MULTIPART")
            yield bytes(event)
