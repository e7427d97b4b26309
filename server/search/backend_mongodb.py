"""The `mongodb` backend at query time: runs the pipelines of `index_mongodb.py` on
`search_chunks` (MongoDB Atlas or Community 8.2+ with mongot).

Access control stays inside retrieval: the readable space ids go into both search stages as
pre-filters. A server without mongot (or without the search indexes) rejects `$search`,
`$vectorSearch` and `$rankFusion`; that is an outage of the search service, answered 503
`SEARCH_BACKEND_UNAVAILABLE` with Retry-After, never a 500 and never a silent fallback to
another backend.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from bson import ObjectId
from pymongo.errors import OperationFailure

from server.core.errors import ServiceUnavailable
from server.search.config import SearchConfig
from server.search.documents import SearchChunk
from server.search.index_embedded import Row
from server.search.index_mongodb import hybrid_pipeline, vector_stage
from server.search.vectors import decode_vector

log = logging.getLogger("server.search")
RETRY_AFTER_SECONDS = 30
SCORE_META = {"hybrid": "score", "lexical": "searchScore", "semantic": "vectorSearchScore"}


class SearchBackendUnavailable(ServiceUnavailable):
    code = "SEARCH_BACKEND_UNAVAILABLE"

    def __init__(self, reason: str) -> None:
        super().__init__(
            "Search is unavailable: the database's search service (mongot) did not answer.",
            details=[{"backend": "mongodb", "reason": reason[:200]}],
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


@dataclass(slots=True)
class Found:
    row: Row
    score: float
    retrievers: list[str]


def _row(doc: dict[str, Any]) -> Row:
    return Row(
        chunk_id=doc["chunk_id"],
        note_id=str(doc["note_id"]),
        space_id=str(doc["space_id"]),
        title=doc.get("title", ""),
        tags=list(doc.get("tags", [])),
        heading_path=list(doc.get("heading_path", [])),
        text=doc.get("text", ""),
        start=doc.get("start", 0),
        end=doc.get("end", 0),
        page=doc.get("page"),
    )


def _retrievers(mode: str, doc: dict[str, Any]) -> list[str]:
    """Which input pipelines ranked the hit ($rankFusion's scoreDetails)."""
    if mode != "hybrid":
        return [mode]
    details = (doc.get("details") or {}).get("details") or []
    return sorted(d["inputPipelineName"] for d in details if d.get("rank"))


class MongoSearch:
    def __init__(self, config: SearchConfig) -> None:
        self.config = config

    async def _aggregate(self, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        try:
            cursor = await SearchChunk.get_pymongo_collection().aggregate(pipeline)
            return await cursor.to_list()
        except OperationFailure as exc:
            log.warning("mongodb search backend failed", extra={"error": str(exc)})
            raise SearchBackendUnavailable(str(exc.details or exc)) from exc

    async def page(
        self,
        query: str,
        vector: npt.NDArray[np.float32] | None,
        space_ids: list[str],
        *,
        mode: str,
        tag: str | None,
        offset: int,
        limit: int,
    ) -> tuple[list[Found], bool]:
        """One page of hits and whether there are more (bounded by `max_results`)."""
        if not space_ids or offset >= self.config.max_results:
            return [], False
        mode = "lexical" if vector is None else mode
        take = min(limit + 1, self.config.max_results - offset)
        pipeline = hybrid_pipeline(
            query,
            None if vector is None else vector.tolist(),
            space_ids,
            mode=mode,
            tag=tag,
            candidates=self.config.candidates,
            limit=take,
            skip=offset,
            weights=(self.config.lexical_weight, self.config.semantic_weight),
        )
        meta = SCORE_META[mode]
        pipeline[-1]["$project"] = {**pipeline[-1]["$project"], "score": {"$meta": meta}}
        docs = await self._aggregate(pipeline)
        found = [Found(_row(d), float(d.get("score") or 0.0), _retrievers(mode, d)) for d in docs]
        more = len(found) > limit and offset + limit < self.config.max_results
        return found[:limit], more

    async def note_vector(self, note_id: str) -> npt.NDArray[np.float32] | None:
        """The mean of the note's chunk vectors, unit length (None without vectors)."""
        coll = SearchChunk.get_pymongo_collection()
        vectors = [
            v
            async for d in coll.find({"note_id": ObjectId(note_id)}, {"vector": 1})
            if (v := decode_vector(d.get("vector"))) is not None
        ]
        if not vectors:
            return None
        mean = np.mean(np.stack(vectors), axis=0)
        norm = float(np.linalg.norm(mean))
        return (mean / norm).astype(np.float32) if norm else None

    async def related(
        self, vector: npt.NDArray[np.float32], space_ids: list[str], candidates: int
    ) -> list[Row]:
        """Chunks closest to `vector` among the readable spaces (pre-filtered in mongot)."""
        if not space_ids:
            return []
        stage = vector_stage(vector.tolist(), space_ids, candidates)
        project = {"$project": {"vector": 0}}
        return [_row(d) for d in await self._aggregate([stage, project])]
