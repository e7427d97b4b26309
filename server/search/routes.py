"""HTTP routes of search: thin; scopes and access live in the manager."""

from __future__ import annotations

from litestar import Controller, get
from litestar.params import Parameter

from server.core.actor import Actor
from server.search.manager import SearchManager
from server.search.schemas import RelatedPage, SearchPage


class SearchController(Controller):
    path = "/api/v1"
    tags = ["search"]

    @get("/search", summary="Hybrid search over the notes I can read")
    async def search_notes(
        self,
        actor: Actor,
        search: SearchManager,
        q: str,
        space: str | None = None,
        tag: str | None = None,
        mode: str = "hybrid",
        cursor: str | None = None,
        limit: int = Parameter(default=10, ge=1, le=50),
    ) -> SearchPage:
        return await search.search(
            actor, q, space=space, tag=tag, mode=mode, cursor=cursor, limit=limit
        )

    @get("/notes/{note_id:str}/related", summary="Notes related to this one")
    async def related_notes(
        self,
        actor: Actor,
        search: SearchManager,
        note_id: str,
        limit: int = Parameter(default=10, ge=1, le=50),
    ) -> RelatedPage:
        return await search.related(actor, note_id, limit)
