"""Hybrid ranking with pseudo-relevance feedback (server/search/retrieve.py): the expansion
math, and access control kept inside it — feedback never reaches a row the actor cannot read,
and such rows change nothing in the ranking."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from server.search.config import SearchConfig
from server.search.index_embedded import EmbeddedIndex
from server.search.retrieve import Retriever, query_weights
from server.search.text import terms
from server.search.vectors import encode_vector

pytestmark = pytest.mark.unit
DIM = 8


def unit(*values: float) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


def doc(i: int, space: str, text: str, vector: np.ndarray) -> dict[str, Any]:
    return {
        "chunk_id": f"c{i}", "note_id": f"n{i}", "space_id": space, "title": "",
        "text": text, "start": 0, "end": len(text), "vector": encode_vector(vector),
    }  # fmt: skip


READABLE = [
    doc(0, "mine", "zebra migration across the serengeti grasslands", unit(1, 0.1)),
    doc(1, "mine", "zebra herds follow the rains on the serengeti", unit(1, 0.2)),
    doc(2, "mine", "wildebeest cross the serengeti grasslands each year", unit(0.2, 1)),
    doc(3, "mine", "a recipe for lemon cake with icing", unit(0, 0, 1)),
    doc(4, "mine", "bicycle repair: patching an inner tube", unit(0, 0, 0, 1)),
]
# Near-duplicates of the feedback rows, in a space the actor cannot read.
HIDDEN = [
    doc(10, "theirs", "zebra zebra serengeti grasslands migration secret", unit(1, 0.15)),
    doc(11, "theirs", "serengeti grasslands wildebeest secret plans", unit(0.3, 1)),
]


def build(docs: list[dict[str, Any]]) -> EmbeddedIndex:
    index = EmbeddedIndex(None, dim=DIM)  # type: ignore[arg-type]  # no stream: no sync()
    for d in docs:
        index.add(d)
    return index


def ranked_ids(index: EmbeddedIndex, ids: list[int]) -> list[str]:
    return [index.row(i).chunk_id for i in ids]


def test_feedback_brings_in_a_row_sharing_the_top_rows_terms_but_no_query_term():
    """Lexical expansion: 'wildebeest' row matches no query term, but shares 'serengeti
    grasslands' with the top rows, so the expanded lexical list finds it."""
    index = build(READABLE)
    mask = index.mask(["mine"])
    query = unit(1, 0)
    plain = Retriever(index, SearchConfig(feedback_docs=0)).rank("zebra", query, mask)
    fed = Retriever(index, SearchConfig(feedback_docs=2)).rank("zebra", query, mask)
    assert "c2" not in ranked_ids(index, plain.lexical)
    assert "c2" in ranked_ids(index, fed.lexical)
    assert set(ranked_ids(index, fed.lexical)[:2]) == {"c0", "c1"}  # the query matches stay first
    assert "c3" not in ranked_ids(index, fed.lexical)  # unrelated rows stay out


def test_no_feedback_is_plain_rrf_and_single_modes_never_expand():
    index = build(READABLE)
    mask = index.mask(["mine"])
    config = SearchConfig(feedback_docs=0)
    r = Retriever(index, config).rank("zebra serengeti", unit(1, 0), mask)
    assert r.lexical == index.lexical("zebra serengeti", mask, config.candidates)
    assert r.semantic == index.semantic(unit(1, 0), mask, config.candidates)
    fed = Retriever(index, SearchConfig(feedback_docs=3))
    assert fed.rank("zebra", None, mask).lexical == index.lexical("zebra", mask, 100)
    only_sem = fed.rank("zebra", unit(1, 0), mask, lexical=False)
    assert only_sem.lexical == [] and only_sem.semantic == index.semantic(unit(1, 0), mask, 100)


def test_rocchio_moves_the_query_towards_the_feedback_rows_and_stays_unit_length():
    index = build(READABLE)
    retriever = Retriever(index, SearchConfig(feedback_vector_weight=1.0))
    q = unit(0, 1)
    moved = retriever.rocchio(q, [0, 1])
    assert float(np.linalg.norm(moved)) == pytest.approx(1.0, abs=1e-5)
    assert float(moved @ index.vectors[0]) > float(q @ index.vectors[0])
    assert retriever.rocchio(q, []) is q


def test_feedback_term_weights_use_readable_rows_only():
    """idf over the readable rows: rows in an unreadable space change neither which terms
    are chosen nor their order."""
    alone = build(READABLE)
    mixed = build(READABLE + HIDDEN)
    config = SearchConfig(feedback_terms=6)
    a = Retriever(alone, config).feedback_terms([0, 1], alone.mask(["mine"]), exclude={"zebra"})
    b = Retriever(mixed, config).feedback_terms([0, 1], mixed.mask(["mine"]), exclude={"zebra"})
    assert a == b
    assert "zebra" not in a and "secret" not in a
    serengeti = terms("serengeti")[0]
    assert mixed.doc_freq(serengeti, mixed.mask(["mine"])) == 3
    assert mixed.doc_freq(serengeti, mixed.mask(["mine", "theirs"])) == 5


@pytest.mark.parametrize("query", ["zebra", "serengeti grasslands", "wildebeest migration"])
def test_feedback_never_surfaces_or_moves_for_unreadable_near_duplicates(query: str):
    """Near-duplicates of the feedback rows planted in another space: they never appear in
    any list, and every list (ids and fused scores) is exactly what the actor gets when
    those rows do not exist at all."""
    alone = build(READABLE)
    mixed = build(READABLE + HIDDEN)
    config = SearchConfig(feedback_docs=3, feedback_terms=10, feedback_weight=0.5)
    vector = unit(1, 0.5)
    a = Retriever(alone, config).rank(query, vector, alone.mask(["mine"]))
    b = Retriever(mixed, config).rank(query, vector, mixed.mask(["mine"]))
    for lst_a, lst_b in ((a.lexical, b.lexical), (a.semantic, b.semantic)):
        assert ranked_ids(mixed, lst_b) == ranked_ids(alone, lst_a)
    assert [(alone.row(i).chunk_id, s) for i, s in a.fused] == [
        (mixed.row(i).chunk_id, s) for i, s in b.fused
    ]
    hidden = {"c10", "c11"}
    everywhere = b.lexical + b.semantic + [i for i, _ in b.fused]
    assert not hidden & set(ranked_ids(mixed, everywhere))
    # and with the other space readable, the same query does find them
    both = Retriever(mixed, config).rank(query, vector, mixed.mask(["mine", "theirs"]))
    assert hidden & set(ranked_ids(mixed, [i for i, _ in both.fused]))


def test_query_weights_count_repeated_terms():
    assert query_weights("Zebra zebras and the zebra") == {"zebra": 3.0}


def test_doc_freqs_from_space_counts_match_the_postings_after_removals_and_with_tags():
    """Document frequencies come from per-space counts when the mask is whole spaces (the
    slow part of a feedback query was reading long postings); they must equal a count over
    the readable postings — after a note is removed, and when a tag filter narrows the mask
    (counted from the postings then)."""
    docs = READABLE + HIDDEN + [{**doc(12, "mine", "serengeti zebra", unit(1)), "tags": ["t"]}]
    index = build(docs)
    index.remove_note("n0")
    words = [terms(w)[0] for w in ("serengeti", "zebra", "grasslands", "secret", "nowhere")]
    for mask in (index.mask(["mine"]), index.mask(["mine", "theirs"]), index.mask(["theirs"]),
                 index.mask(["mine"], tag="t"), index.mask([])):  # fmt: skip
        direct = {
            w: int(mask[index.postings[w].arrays()[0]].sum()) if w in index.postings else 0
            for w in words
        }
        assert index.doc_freqs(words, mask) == direct
    assert index.doc_freqs(words, index.mask(["mine"]))[words[0]] == 3  # c1, c2, c12


def test_feedback_skips_terms_held_by_too_many_readable_rows_counted_over_readable_rows():
    """The p95 tail of hybrid search was expansion terms with long postings (a title word
    held by every chunk). Terms held by more than `feedback_max_df` of the readable rows (and
    more than MIN_DF_CAP rows) are no longer added; the share is counted over readable rows
    only, so rows in another space never push a term over (or under) the cap."""
    common = [doc(i, "mine", f"zebra common filler{i}", unit(1, 0.1)) for i in range(300)]
    rare = [doc(300, "mine", "zebra common okapi", unit(1, 0.1))]
    hidden = [doc(400 + i, "theirs", "okapi", unit(0, 1)) for i in range(300)]
    for docs in (common + rare, common + rare + hidden):
        index = build(docs)
        mask = index.mask(["mine"])
        capped = Retriever(index, SearchConfig(feedback_max_df=0.5))
        uncapped = Retriever(index, SearchConfig(feedback_max_df=1.0))
        got = capped.feedback_terms([300, 0], mask, exclude={"zebra"})
        assert "common" in uncapped.feedback_terms([300, 0], mask, exclude={"zebra"})
        assert "common" not in got  # 301 of 301 readable rows
        assert terms("okapi")[0] in got  # 1 readable row, whatever the other space holds
