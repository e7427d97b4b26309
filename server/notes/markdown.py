"""What a note's Markdown says about it: `#tags` and `[[wikilinks]]` (pure functions).

Code spans and fenced code blocks are skipped, so `#include` in a snippet is not a tag.
A body tag needs one non-digit character (`#1` is an issue number, not a tag), as in Obsidian.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TAG_RE = re.compile(r"^[a-z0-9/_-]{1,64}$")
_BODY_TAG = re.compile(r"(?<![\w&/#\[])#([A-Za-z0-9/_-]{1,64})(?![A-Za-z0-9/_-])")
_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_WIKILINK = re.compile(r"\[\[([^\[\]|#\n]+?)(?:#[^\[\]|\n]*)?(?:\|([^\[\]\n]*))?\]\]")
_ID = re.compile(r"^id:([0-9a-f]{24})$")
_SPACE = re.compile(r"\s+")


def title_key(title: str) -> str:
    """How titles compare for wikilinks: case-insensitive, whitespace collapsed."""
    return _SPACE.sub(" ", title).strip().casefold()


def _prose(body: str) -> str:
    return _CODE_SPAN.sub(" ", _FENCE.sub(" ", body))


def body_tags(body: str) -> list[str]:
    """`#tags` in the body, lowercased, in order of appearance, without duplicates."""
    found: dict[str, None] = {}
    for match in _BODY_TAG.finditer(_prose(body)):
        tag = match.group(1).lower().strip("/")
        if tag and not tag.replace("/", "").isdigit() and TAG_RE.match(tag):
            found[tag] = None
    return list(found)


@dataclass(frozen=True, slots=True)
class WikiLink:
    target: str  # as written: a title, or `id:<note id>`
    alias: str | None
    note_id: str | None  # set for `[[id:…]]`

    @property
    def key(self) -> str:
        """`i:<id>` or `t:<title key>`: what the link resolves by (stored for backlinks)."""
        return f"i:{self.note_id}" if self.note_id else f"t:{title_key(self.target)}"


def wikilinks(body: str) -> list[WikiLink]:
    """Every distinct `[[Title]]`, `[[Title|alias]]`, `[[Title#heading]]`, `[[id:…]]`."""
    seen: dict[tuple[str, str | None], WikiLink] = {}
    for match in _WIKILINK.finditer(_prose(body)):
        target = match.group(1).strip()
        if not target:
            continue
        alias = match.group(2).strip() if match.group(2) else None
        id_match = _ID.match(target)
        link = WikiLink(target, alias, id_match.group(1) if id_match else None)
        seen.setdefault((target, alias), link)
    return list(seen.values())


def link_keys(body: str) -> list[str]:
    return list(dict.fromkeys(link.key for link in wikilinks(body)))
