"""Chunking (issue 13 part 1): exact offsets, heading paths, atomic code and tables,
overlap, pages, content-hash identity; and reciprocal rank fusion."""

from __future__ import annotations

import itertools

import pytest

from server.search.chunker import ChunkSpec, chunk_markdown
from server.search.fusion import rrf
from server.search.snippets import snippet

pytestmark = pytest.mark.unit


def test_every_chunk_is_an_exact_slice_with_its_heading_path():
    body = "# Top\nintro\n\n## Sub\n" + "alpha beta. " * 300 + "\n\n### Deep\nend here\n"
    chunks = chunk_markdown(body, title="T", spec=ChunkSpec(max_chars=500, overlap_chars=80))
    assert chunks and all(body[c.start : c.end] == c.text for c in chunks)
    assert chunks[0].heading_path == ("Top",)
    assert chunks[-1].heading_path == ("Top", "Sub", "Deep")
    subs = [c for c in chunks if c.heading_path == ("Top", "Sub")]
    assert len(subs) > 3 and all(len(c.text) <= 500 for c in subs)
    assert all(b.start < a.end for a, b in itertools.pairwise(subs))  # overlap


def test_code_blocks_and_tables_are_never_split():
    code = "```python\n" + "\n\n".join(f"x{i} = {i}" for i in range(100)) + "\n```"
    table = "| a | b |\n| - | - |\n" + "\n".join(f"| {i} | {i} |" for i in range(60))
    body = f"# Code\n\n{code}\n\n# Table\n\n{table}\n"
    chunks = chunk_markdown(body, spec=ChunkSpec(max_chars=200, overlap_chars=20))
    assert [c.text for c in chunks] == [code, table]


def test_pages_come_from_the_document_markers():
    body = "<!-- page 1 -->\nfirst page text\n\n<!-- page 2 -->\nsecond page text\n"
    chunks = chunk_markdown(body, spec=ChunkSpec(max_chars=20, overlap_chars=0))
    assert [(c.text, c.page) for c in chunks] == [("first page text", 1), ("second page text", 2)]


def test_identity_is_the_content_hash_so_only_changed_text_gets_new_ids():
    a = chunk_markdown("# H\n\none\n\n# I\n\ntwo\n")
    b = chunk_markdown("# H\n\nONE changed\n\n# I\n\ntwo\n")
    assert a[1].content_hash == b[1].content_hash  # moved offsets, same text
    assert a[0].content_hash != b[0].content_hash
    assert chunk_markdown("x", title="A")[0].content_hash != chunk_markdown("x")[0].content_hash


def test_rrf_and_snippet():
    assert [i for i, _ in rrf([[1, 2, 3], [3, 1]])] == [1, 3, 2]
    assert [i for i, _ in rrf([[1, 2], [2, 1]], weights=[1.0, 2.0])] == [2, 1]
    out = snippet("Cats <b>chase</b> running mice", "run mouse")
    assert "<mark>running</mark>" in out and "&lt;b&gt;" in out
