"""The `mongodb` backend's pipelines (no mongot here): access filters inside both inputs,
`$rankFusion` for hybrid, the index definitions."""

from __future__ import annotations

import pytest
from bson import ObjectId

from server.search.index_mongodb import (
    TEXT_INDEX,
    VECTOR_INDEX,
    hybrid_pipeline,
    index_definitions,
)

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
