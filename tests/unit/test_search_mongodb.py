"""The `mongodb` backend's pipelines (no mongot here): access filters inside both inputs,
`$rankFusion` for hybrid, the index definitions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from bson import ObjectId
from bson.binary import VECTOR_SUBTYPE, Binary, BinaryVectorDtype

from server.search.backend_mongodb import MongoSearch
from server.search.config import SearchConfig
from server.search.index_mongodb import (
    TEXT_INDEX,
    VECTOR_INDEX,
    hybrid_pipeline,
    index_definitions,
)
from server.search.vectors import decode_vector, encode_vector

pytestmark = pytest.mark.unit
SPACES = [str(ObjectId()), str(ObjectId())]


def test_hybrid_fuses_both_inputs_each_filtered_to_readable_spaces():
    pipeline = hybrid_pipeline("zebra budget", [0.5, 0.5], SPACES, tag="plans", limit=5, skip=10)
    fusion = pipeline[0]["$rankFusion"]
    lexical = fusion["input"]["pipelines"]["lexical"]
    semantic = fusion["input"]["pipelines"]["semantic"]
    search = lexical[0]["$search"]
    assert search["index"] == TEXT_INDEX
    assert search["compound"]["filter"][0] == {
        "in": {"path": "space_id", "value": [ObjectId(s) for s in SPACES]}
    }
    assert {"equals": {"path": "tags", "value": "plans"}} in search["compound"]["filter"]
    vector = semantic[0]["$vectorSearch"]
    assert vector["index"] == VECTOR_INDEX and vector["queryVector"] == [0.5, 0.5]
    assert vector["filter"]["$and"][0] == {"space_id": {"$in": [ObjectId(s) for s in SPACES]}}
    assert fusion["combination"]["weights"] == {"lexical": 1.0, "semantic": 1.3}
    assert pipeline[1:3] == [{"$skip": 10}, {"$limit": 5}]
    assert "vector" not in pipeline[-1]["$project"]


def test_modes_and_degraded_embedder():
    assert "$search" in hybrid_pipeline("q", None, SPACES)[0]  # no vector: lexical only
    assert "$vectorSearch" in hybrid_pipeline("q", [1.0], SPACES, mode="semantic")[0]
    assert "$search" in hybrid_pipeline("q", [1.0], SPACES, mode="lexical")[0]
    with pytest.raises(ValueError):
        hybrid_pipeline("q", [1.0], [])


def test_index_definitions_declare_the_filter_fields():
    text, vector = index_definitions(256)
    assert text["type"] == "search" and vector["type"] == "vectorSearch"
    fields = vector["definition"]["fields"]
    assert fields[0]["numDimensions"] == 256
    assert {"type": "filter", "path": "space_id"} in fields


def test_hybrid_asks_rank_fusion_for_score_details_and_projects_them():
    pipeline = hybrid_pipeline("q", [1.0], SPACES)
    assert pipeline[0]["$rankFusion"]["scoreDetails"] is True
    assert pipeline[-1]["$project"]["details"] == {"$meta": "scoreDetails"}
    assert "details" not in hybrid_pipeline("q", [1.0], SPACES, mode="lexical")[-1]["$project"]


class Recording(MongoSearch):
    """MongoSearch with the database call replaced by a recorder."""

    def __init__(self, config: SearchConfig, answer: list[dict[str, Any]]) -> None:
        super().__init__(config)
        self.answer = answer
        self.pipelines: list[list[dict[str, Any]]] = []

    async def _aggregate(self, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.pipelines.append(pipeline)
        return self.answer


def chunk_doc(n: int, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "chunk_id": f"c{n}", "note_id": ObjectId(), "space_id": ObjectId(SPACES[0]),
        "title": "t", "text": "zebra", "start": 0, "end": 5, "score": 0.5,
        "details": {"details": details or []},
    }  # fmt: skip


async def test_page_filters_both_stages_to_the_readable_spaces_and_pages_with_one_extra():
    answer = [chunk_doc(n) for n in range(4)]
    answer[0]["details"]["details"] = [
        {"inputPipelineName": "semantic", "rank": 2},
        {"inputPipelineName": "lexical", "rank": 1},
    ]
    backend = Recording(SearchConfig(lexical_weight=1.0, semantic_weight=1.3), answer)
    found, more = await backend.page(
        "zebra", np.ones(4, np.float32) / 2, SPACES, mode="hybrid", tag=None, offset=20, limit=3
    )
    assert [f.row.chunk_id for f in found] == ["c0", "c1", "c2"] and more
    assert found[0].retrievers == ["lexical", "semantic"] and found[1].retrievers == []
    (pipeline,) = backend.pipelines
    inputs = pipeline[0]["$rankFusion"]["input"]["pipelines"]
    wanted = [ObjectId(s) for s in SPACES]
    assert inputs["lexical"][0]["$search"]["compound"]["filter"][0]["in"]["value"] == wanted
    assert inputs["semantic"][0]["$vectorSearch"]["filter"] == {"space_id": {"$in": wanted}}
    assert pipeline[1:3] == [{"$skip": 20}, {"$limit": 4}]
    assert pipeline[-1]["$project"]["score"] == {"$meta": "score"}


async def test_page_without_readable_spaces_or_past_the_last_page_queries_nothing():
    backend = Recording(SearchConfig(max_results=100), [chunk_doc(0)])
    assert await backend.page("q", None, [], mode="lexical", tag=None, offset=0, limit=5) == (
        [],
        False,
    )
    assert (await backend.page("q", None, SPACES, mode="lexical", tag=None, offset=100, limit=5))[
        0
    ] == []
    assert backend.pipelines == []
    found, more = await backend.page("q", None, SPACES, mode="hybrid", tag="x", offset=0, limit=5)
    assert not more and found[0].retrievers == ["lexical"]  # no vector: lexical only
    (pipeline,) = backend.pipelines
    assert "$search" in pipeline[0] and pipeline[-1]["$project"]["score"] == {
        "$meta": "searchScore"
    }


def test_vectors_are_bson_float32_vectors_and_raw_bytes_still_read():
    v = np.asarray([0.25, -1.5, 3.0], np.float32)
    encoded = encode_vector(v)
    assert encoded.subtype == VECTOR_SUBTYPE
    assert encoded.as_vector().data == pytest.approx(v.tolist())  # pymongo's own decoder agrees
    assert np.array_equal(decode_vector(encoded), v)
    assert np.array_equal(decode_vector(v.tobytes()), v)  # chunks written before
    assert decode_vector(None) is None
    int8 = Binary.from_vector([1, 2], BinaryVectorDtype.INT8)
    assert decode_vector(int8) is None
