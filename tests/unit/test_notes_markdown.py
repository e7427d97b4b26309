"""Tags and wikilinks read from a note's Markdown (pure functions)."""

from __future__ import annotations

import pytest

from server.core.errors import DomainError
from server.notes.markdown import body_tags, link_keys, title_key, wikilinks
from server.notes.rules import NotesConfig, all_tags, check_body, clean_tags

pytestmark = pytest.mark.unit


def test_body_tags_skip_code_numbers_headings_and_urls():
    body = (
        "# Heading\n#Project/Alpha and #to-do, issue #12, http://x.org/#anchor\n"
        "```\n#include <stdio.h>\n```\n`#inline` and #Project/alpha again"
    )
    assert body_tags(body) == ["project/alpha", "to-do"]


def test_wikilink_forms():
    links = wikilinks("[[A]] [[B|bee]] [[C#Part]] [[id:0123456789abcdef01234567]] [[A]] [[ ]]")
    assert [(link.target, link.alias, link.note_id) for link in links] == [
        ("A", None, None),
        ("B", "bee", None),
        ("C", None, None),
        ("id:0123456789abcdef01234567", None, "0123456789abcdef01234567"),
    ]
    assert link_keys("[[Big  Idea]] [[big idea|x]]") == ["t:big idea"]
    assert title_key("  Big\tIdea ") == "big idea"


def test_tag_rules():
    config = NotesConfig()
    assert clean_tags(["#Work", "work", "a/b_c-d"], config) == ["work", "a/b_c-d"]
    for bad in (["has space"], ["x" * 65], ["ümlaut"]):
        with pytest.raises(DomainError) as raised:
            clean_tags(bad, config)
        assert raised.value.code == "INVALID_TAG"
    with pytest.raises(DomainError):
        all_tags([f"t{i}" for i in range(30)], " ".join(f"#b{i}" for i in range(21)), config)
    with pytest.raises(DomainError) as big:
        check_body("é" * (config.max_body_bytes // 2 + 1), config)  # bytes, not characters
    assert big.value.status_code == 413
