"""YAML front matter of Markdown vault files: read on import, written on export."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml


class FrontMatterError(Exception):
    pass


@dataclass(slots=True)
class Parsed:
    title: str | None = None
    tags: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    body: str = ""


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.replace(",", " ").split() if v.strip()]
    if isinstance(value, list):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    return [str(value)]


def parse(text: str) -> Parsed:
    """Split `---\\n<yaml>\\n---\\n` off the text; FrontMatterError if the YAML is invalid."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.startswith("---"):
        return Parsed(body=text)
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return Parsed(body=text)
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        return Parsed(body=text)
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        raise FrontMatterError(f"invalid YAML front matter: {exc}".splitlines()[0]) from exc
    if not isinstance(meta, dict):
        raise FrontMatterError("the front matter is not a YAML mapping")
    body = "\n".join(lines[end + 1 :])
    title = meta.get("title")
    tags = [t.lstrip("#") for t in _strings(meta.get("tags") or meta.get("tag"))]
    raw_aliases = meta.get("aliases", meta.get("alias"))
    if isinstance(raw_aliases, list):
        aliases = [str(a).strip() for a in raw_aliases if a is not None and str(a).strip()]
    else:
        aliases = [str(raw_aliases).strip()] if raw_aliases else []
    return Parsed(str(title).strip() if title else None, tags, aliases, body)


def render(
    *,
    title: str,
    tags: list[str],
    aliases: list[str],
    created: datetime,
    updated: datetime,
    body: str,
) -> str:
    meta: dict[str, Any] = {"title": title}
    if tags:
        meta["tags"] = tags
    if aliases:
        meta["aliases"] = aliases
    meta["created"] = created.isoformat()
    meta["updated"] = updated.isoformat()
    head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
    return f"---\n{head}---\n{body}"
