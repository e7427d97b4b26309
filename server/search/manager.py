"""Search: the read side over the chunk index, with access decided before ranking.

Every query first asks the space manager which spaces the actor can read *now* (or checks
the one space asked for: 404 if unreadable), and the index ranks only rows of those spaces.
"""

from __future__ import annotations

import base64
import binascii

from auth.scopes import require_scope
from server.core.actor import Actor
from server.core.errors import Unprocessable
from server.notes.manager import NotesManager
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
        await self.index.sync()
        mask = self.index.mask(space_ids, tag.lower().lstrip("#") if tag else None)
        vector = None
        degraded = False
        if mode in ("hybrid", "semantic"):
            try:
                vector = await self.embedder.embed_query(q)
            except EmbedderUnavailable:
                degraded = True
        ran: SearchMode = "lexical" if degraded else mode  # type: ignore[assignment]
        ranking = self.retriever.rank(q, vector, mask, lexical=ran != "semantic")
        lexical, semantic = ranking.lexical, ranking.semantic
        fused = ranking.fused[: self.config.max_results]
        found_by = {i: ["lexical"] for i in lexical}
        for i in semantic:
            found_by.setdefault(i, []).append("semantic")
        page = fused[offset : offset + limit]
        hits = []
        for i, score in page:
            row = self.index.row(i)
            hits.append(
                SearchHit(
                    note_id=row.note_id,
                    chunk_id=row.chunk_id,
                    space_id=row.space_id,
                    title=row.title,
                    heading_path=row.heading_path,
                    snippet=snippet(row.text, q),
                    start=row.start,
                    end=row.end,
                    page=row.page,
                    score=round(score, 6),
                    retrievers=found_by.get(i, []),
                )
            )
        more = offset + limit < len(fused)
        return SearchPage(
            hits=hits,
            mode=ran,
            degraded=degraded,
            next_cursor=encode_cursor(offset + limit) if more else None,
        )

    async def related(self, actor: Actor, note_id: str, limit: int = 10) -> RelatedPage:
        """Notes whose chunks sit closest to this note's mean vector, in readable spaces."""
        require_scope(actor, "notes:read")
        note = await self.notes.get(actor, note_id)  # 404 unless the actor may read it
        space_ids = await self.readable_space_ids(actor, None)
        await self.index.sync()
        vector = self.index.note_vector(note.id)
        if vector is None:
            return RelatedPage(notes=[])
        mask = self.index.mask(space_ids)
        best: dict[str, RelatedNote] = {}
        for rank, i in enumerate(self.index.semantic(vector, mask, 200)):
            row = self.index.row(i)
            if row.note_id == note.id or row.note_id in best:
                continue
            best[row.note_id] = RelatedNote(
                note_id=row.note_id, title=row.title, score=round(1 / (rank + 1), 6)
            )
            if len(best) >= limit:
                break
        return RelatedPage(notes=list(best.values()))
