"""Citations of a streamed answer (issue 13 part 5): `[n]` markers renumbered 1..k in order of
first use, markers that cite nothing dropped, markers split across tokens handled."""

from __future__ import annotations

import pytest

from agents.citations import CitationStream, Sources, rewrite, spoken
from agents.router import RouteChoice, pattern_route, route
from agents.scripted import ScriptedChatModel, call

pytestmark = pytest.mark.unit


def sources(n: int) -> Sources:
    out = Sources()
    for i in range(1, n + 1):
        out.add(
            note_id=f"n{i}",
            chunk_id=f"n{i}:h{i}",
            title=f"Note {i}",
            heading_path=["H"],
            start=i * 10,
            end=i * 10 + 5,
            page=None,
        )
    return out


def test_markers_are_renumbered_in_order_of_first_use_and_unknown_ones_dropped():
    text, cites = rewrite("Hay [3] and fences [1]. Again hay [3]. Made up [9].", sources(3))
    assert text == "Hay [1] and fences [2]. Again hay [1]. Made up."
    assert [(c["index"], c["noteId"], c["chunkId"]) for c in cites] == [
        (1, "n3", "n3:h3"),
        (2, "n1", "n1:h1"),
    ]
    assert cites[0]["start"] == 30 and cites[0]["end"] == 35 and "page" not in cites[0]


def test_a_marker_split_across_tokens_is_held_back_until_complete():
    """A token ending in "[1" must not be sent before the next token says "2]" or not."""
    stream = CitationStream(sources(12))
    out: list[str] = []
    cites: list[dict] = []
    for piece in ["Budget", " [", "1", "2", "] is", " 40k [", "99] [", "x"]:
        text, new = stream.feed(piece)
        out.append(text)
        cites += new
    text, new = stream.flush()
    out.append(text)
    assert "".join(out) == "Budget [1] is 40k [x"
    assert [c["noteId"] for c in cites] == ["n12"]


def test_the_same_chunk_found_twice_keeps_its_number():
    s = sources(2)
    again = s.add(
        note_id="n1", chunk_id="n1:h1", title="Note 1", heading_path=[], start=10, end=15, page=None
    )
    assert again == 1 and len(s.items) == 2


def test_spoken_text_has_no_markers():
    assert spoken("Forty thousand [1], mostly hay [2].") == "Forty thousand, mostly hay."


def test_knowledge_questions_route_by_pattern_even_before_the_llm():
    assert pattern_route("What did I write about the zebra budget?") == "knowledge"
    assert pattern_route("send 20 tokens to mom") is None
    assert "knowledge" in RouteChoice.model_json_schema()["properties"]["agent"]["enum"]


async def test_pattern_route_wins_over_the_llm():
    llm = ScriptedChatModel(messages=iter([call("RouteChoice", {"agent": "commerce"})]))
    assert await route("what do my notes say about hay?", llm) == ("knowledge", "keywords")
    assert llm.calls == []
