"""The `mongodb` backend's queries: `$vectorSearch` and `$search` fused with `$rankFusion`.

For MongoDB Atlas or Community 8.2+ with mongot; it cannot run against SecantusDB, so the
pipelines are built here as plain data and unit-tested (tests/unit/test_search_mongodb.py).
Access is inside the query: both input pipelines filter on the readable `space_id`s before
they rank (`filter` of `$vectorSearch` is a pre-filter; `$search`'s compound `filter`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bson import ObjectId

TEXT_INDEX = "search_chunks_text"
VECTOR_INDEX = "search_chunks_vector"
PROJECT = {
    "_id": 0, "chunk_id": 1, "note_id": 1, "space_id": 1, "title": 1, "heading_path": 1,
    "text": 1, "start": 1, "end": 1, "page": 1,
}  # fmt: skip


def index_definitions(dim: int) -> list[dict[str, Any]]:
    """What `createSearchIndexes` needs for `search_chunks` (space_id and tags are filter
    fields of the vector index, so the pre-filter runs inside mongot)."""
    return [
        {
            "name": TEXT_INDEX,
            "type": "search",
            "definition": {
                "mappings": {
                    "dynamic": False,
                    "fields": {
                        "title": {"type": "string", "analyzer": "lucene.english"},
                        "heading_path": {"type": "string", "analyzer": "lucene.english"},
                        "text": {"type": "string", "analyzer": "lucene.english"},
                        "space_id": {"type": "objectId"},
                        "tags": {"type": "token"},
                    },
                }
            },
        },
        {
            "name": VECTOR_INDEX,
            "type": "vectorSearch",
            "definition": {
                "fields": [
                    {
                        "type": "vector",
                        "path": "vector",
                        "numDimensions": dim,
                        "similarity": "dotProduct",
                    },
                    {"type": "filter", "path": "space_id"},
                    {"type": "filter", "path": "tags"},
                ]
            },
        },
    ]


def _space_oids(space_ids: Sequence[str]) -> list[ObjectId]:
    return [ObjectId(s) for s in space_ids]


def text_stage(query: str, space_ids: Sequence[str], tag: str | None = None) -> dict[str, Any]:
    filters: list[dict[str, Any]] = [{"in": {"path": "space_id", "value": _space_oids(space_ids)}}]
    if tag is not None:
        filters.append({"equals": {"path": "tags", "value": tag}})
    return {
        "$search": {
            "index": TEXT_INDEX,
            "compound": {
                "must": [{"text": {"query": query, "path": ["title", "heading_path", "text"]}}],
                "filter": filters,
            },
        }
    }


def vector_stage(
    vector: Sequence[float], space_ids: Sequence[str], limit: int, tag: str | None = None
) -> dict[str, Any]:
    flt: dict[str, Any] = {"space_id": {"$in": _space_oids(space_ids)}}
    if tag is not None:
        flt = {"$and": [flt, {"tags": tag}]}
    return {
        "$vectorSearch": {
            "index": VECTOR_INDEX,
            "path": "vector",
            "queryVector": [float(x) for x in vector],
            "numCandidates": max(limit * 10, 100),
            "limit": limit,
            "filter": flt,
        }
    }


def hybrid_pipeline(
    query: str,
    vector: Sequence[float] | None,
    space_ids: Sequence[str],
    *,
    mode: str = "hybrid",
    tag: str | None = None,
    candidates: int = 100,
    limit: int = 10,
    skip: int = 0,
    weights: tuple[float, float] = (1.0, 1.3),
) -> list[dict[str, Any]]:
    """The aggregation on `search_chunks` for one page of hits (`mode` as in the API)."""
    if not space_ids:
        raise ValueError("no readable space: answer an empty page without querying")
    lexical = [text_stage(query, space_ids, tag), {"$limit": candidates}]
    semantic = [vector_stage(vector, space_ids, candidates, tag)] if vector is not None else []
    if mode == "lexical" or not semantic:
        head = lexical
    elif mode == "semantic":
        head = semantic
    else:
        head = [
            {
                "$rankFusion": {
                    "input": {"pipelines": {"lexical": lexical, "semantic": semantic}},
                    "combination": {"weights": {"lexical": weights[0], "semantic": weights[1]}},
                    "scoreDetails": True,  # which input ranked each hit ("retrievers")
                }
            }
        ]
        project = {**PROJECT, "details": {"$meta": "scoreDetails"}}
        return [*head, {"$skip": skip}, {"$limit": limit}, {"$project": project}]
    return [*head, {"$skip": skip}, {"$limit": limit}, {"$project": PROJECT}]
