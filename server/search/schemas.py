"""Wire types of search (camelCase)."""

from __future__ import annotations

from typing import Literal

from server.core.wire import Output

SearchMode = Literal["hybrid", "lexical", "semantic"]


class SearchHit(Output):
    note_id: str
    chunk_id: str
    space_id: str
    title: str
    heading_path: list[str]
    snippet: str  # HTML-escaped chunk text around the match, matched terms in <mark>…</mark>
    start: int  # the chunk is exactly note.body[start:end]
    end: int
    page: int | None
    score: float
    retrievers: list[str]  # "lexical", "semantic": which lists found it


class SearchPage(Output):
    hits: list[SearchHit]
    mode: SearchMode  # the mode that ran ("lexical" when embeddings are degraded)
    degraded: bool  # the embedder was unavailable: lexical results only
    next_cursor: str | None


class RelatedNote(Output):
    note_id: str
    title: str
    score: float


class RelatedPage(Output):
    notes: list[RelatedNote]
