"""Search: the read side over the chunk index, with access decided before ranking.

Every query first asks the space manager which spaces the actor can read *now* (or checks
the one space asked for: 404 if unreadable), and the index ranks only rows of those spaces.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np
import numpy.typing as npt

from auth.scopes import require_scope
from server.core.actor import Actor
from server.core.errors import Unprocessable
from server.notes.manager import NotesManager
from server.search.backend_mongodb import Found, MongoSearch
from server.search.config import SearchConfig
from server.search.embedders import Embedder, EmbedderUnavailable
from server.search.index_embedded import EmbeddedIndex
from server.search.retrieve import Retriever
from server.search.schemas import (
    RelatedNote,
    RelatedPage,
    SearchHit,
    SearchMode,
    SearchPage,
)
from server.search.snippets import snippet
from server.spaces.manager import SpaceManager

MAX_QUERY_CHARS = 500
MODES = ("hybrid", "lexical", "semantic")


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("o:") or not text[2:].isdigit():
            raise ValueError(text)
        return int(text[2:])
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise Unprocessable(
            "The cursor is not valid.", code="INVALID_CURSOR", details=[{"field": "cursor"}]
        ) from exc


class SearchManager:
    def __init__(
        self,
        *,
        index: EmbeddedIndex,
        embedder: Embedder,
        spaces: SpaceManager,
        notes: NotesManager,
        config: SearchConfig,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.spaces = spaces
        self.notes = notes
        self.config = config
        self.retriever = Retriever(index, config)
        self.mongo = MongoSearch(config) if config.backend == "mongodb" else None

    async def readable_space_ids(self, actor: Actor, space: str | None) -> list[str]:
        if space:
            return [str((await self.spaces.resolve(actor, space)).space_id)]
        return [str(a.space_id) for a in await self.spaces.readable(actor)]

    async def search(
        self,
        actor: Actor,
        q: str,
        *,
        space: str | None = None,
        tag: str | None = None,
        mode: str = "hybrid",
        cursor: str | None = None,
        limit: int = 10,
    ) -> SearchPage:
        require_scope(actor, "notes:read")
        q = q.strip()
        if not q or len(q) > MAX_QUERY_CHARS:
            raise Unprocessable(
                f"q must be 1-{MAX_QUERY_CHARS} characters.",
                code="INVALID_QUERY",
                details=[{"field": "q"}],
            )
        if mode not in MODES:
            raise Unprocessable(
                "mode must be hybrid, lexical or semantic.",
                code="INVALID_MODE",
                details=[{"field": "mode"}],
            )
        limit = max(1, min(limit, 50))
        offset = decode_cursor(cursor)
        space_ids = await self.readable_space_ids(actor, space)
        tag = tag.lower().lstrip("#") if tag else None
        vector = None
        degraded = False
        if mode in ("hybrid", "semantic"):
            try:
                vector = await self.embedder.embed_query(q)
            except EmbedderUnavailable:
                degraded = True
        ran: SearchMode = "lexical" if degraded else mode  # type: ignore[assignment]
        if self.mongo is not None:
            found, more = await self.mongo.page(
                q, vector, space_ids, mode=ran, tag=tag, offset=offset, limit=limit
            )
        else:
            found, more = await self._embedded_page(q, vector, space_ids, ran, tag, offset, limit)
        hits = [
            SearchHit(
                note_id=f.row.note_id,
                chunk_id=f.row.chunk_id,
                space_id=f.row.space_id,
                title=f.row.title,
                heading_path=f.row.heading_path,
                snippet=snippet(f.row.text, q),
                start=f.row.start,
                end=f.row.end,
                page=f.row.page,
                score=round(f.score, 6),
                retrievers=f.retrievers,
            )
            for f in found
        ]
        return SearchPage(
            hits=hits,
            mode=ran,
            degraded=degraded,
            next_cursor=encode_cursor(offset + limit) if more else None,
        )

    async def _embedded_page(
        self,
        q: str,
        vector: npt.NDArray[np.float32] | None,
        space_ids: list[str],
        mode: SearchMode,
        tag: str | None,
        offset: int,
        limit: int,
    ) -> tuple[list[Found], bool]:
        await self.index.sync()
        mask = self.index.mask(space_ids, tag)
        ranking = self.retriever.rank(q, vector, mask, lexical=mode != "semantic")
        fused = ranking.fused[: self.config.max_results]
        found_by: dict[int, list[str]] = {i: ["lexical"] for i in ranking.lexical}
        for i in ranking.semantic:
            found_by.setdefault(i, []).append("semantic")
        page = [
            Found(self.index.row(i), score, found_by.get(i, []))
            for i, score in fused[offset : offset + limit]
        ]
        return page, offset + limit < len(fused)

    async def related(self, actor: Actor, note_id: str, limit: int = 10) -> RelatedPage:
        """Notes whose chunks sit closest to this note's mean vector, in readable spaces."""
        require_scope(actor, "notes:read")
        note = await self.notes.get(actor, note_id)  # 404 unless the actor may read it
        space_ids = await self.readable_space_ids(actor, None)
        if self.mongo is not None:
            vector = await self.mongo.note_vector(note.id)
            rows = [] if vector is None else await self.mongo.related(vector, space_ids, 200)
        else:
            await self.index.sync()
            vector = self.index.note_vector(note.id)
            mask = self.index.mask(space_ids)
            rows = (
                []
                if vector is None
                else [self.index.row(i) for i in self.index.semantic(vector, mask, 200)]
            )
        best: dict[str, RelatedNote] = {}
        for rank, row in enumerate(rows):
            if row.note_id == note.id or row.note_id in best:
                continue
            best[row.note_id] = RelatedNote(
                note_id=row.note_id, title=row.title, score=round(1 / (rank + 1), 6)
            )
            if len(best) >= limit:
                break
        return RelatedPage(notes=list(best.values()))
