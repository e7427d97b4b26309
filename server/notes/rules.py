"""The notes limits and the checks every write path shares (HTTP, agents, import)."""

from __future__ import annotations

from dataclasses import dataclass

from server.core.errors import DomainError, Unprocessable
from server.notes.markdown import TAG_RE, body_tags


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


@dataclass(frozen=True, slots=True)
class NotesConfig:
    max_notes_per_space: int = 10_000
    max_bytes_per_space: int = 500 * 1024 * 1024
    max_body_bytes: int = 1024 * 1024
    event_body_max_bytes: int = 16 * 1024
    trash_retention_days: int = 30
    max_tags: int = 50
    max_aliases: int = 20
    max_title_chars: int = 200


def clean_title(title: str, config: NotesConfig, field: str = "title") -> str:
    title = " ".join(title.split())
    if not 1 <= len(title) <= config.max_title_chars:
        raise Unprocessable(
            f"A {field} must be 1-{config.max_title_chars} characters.",
            code="INVALID_TITLE",
            details=[{"field": field, "message": f"1-{config.max_title_chars} characters"}],
        )
    return title


def check_body(body: str, config: NotesConfig) -> int:
    """The body's size in bytes; 413 `NOTE_TOO_LARGE` past the limit."""
    size = len(body.encode("utf-8"))
    if size > config.max_body_bytes:
        raise PayloadTooLarge(
            f"A note body may be at most {config.max_body_bytes} bytes.",
            code="NOTE_TOO_LARGE",
            details=[{"field": "body", "limit": config.max_body_bytes, "size": size}],
        )
    return size


def clean_tags(tags: list[str], config: NotesConfig) -> list[str]:
    """Explicit tags: a leading `#` dropped, lowercased, each `[a-z0-9/_-]{1,64}`."""
    if len(tags) > config.max_tags:
        raise Unprocessable(
            f"A note may have at most {config.max_tags} tags.",
            code="TOO_MANY_TAGS",
            details=[{"field": "tags", "limit": config.max_tags, "count": len(tags)}],
        )
    out: dict[str, None] = {}
    for raw in tags:
        tag = raw.strip().removeprefix("#").lower()
        if not TAG_RE.match(tag):
            raise Unprocessable(
                "Tags are 1-64 characters of a-z, 0-9, '/', '_' and '-'.",
                code="INVALID_TAG",
                details=[{"field": "tags", "value": raw[:80]}],
            )
        out[tag] = None
    return list(out)


def all_tags(own: list[str], body: str, config: NotesConfig) -> list[str]:
    """Explicit tags plus the body's `#tags`; the total counts against the limit."""
    merged = list(dict.fromkeys([*own, *body_tags(body)]))
    if len(merged) > config.max_tags:
        raise Unprocessable(
            f"A note may have at most {config.max_tags} tags (the body's #tags count too).",
            code="TOO_MANY_TAGS",
            details=[{"field": "tags", "limit": config.max_tags, "count": len(merged)}],
        )
    return merged


def clean_aliases(aliases: list[str], config: NotesConfig) -> list[str]:
    if len(aliases) > config.max_aliases:
        raise Unprocessable(
            f"A note may have at most {config.max_aliases} aliases.",
            code="TOO_MANY_ALIASES",
            details=[{"field": "aliases", "limit": config.max_aliases}],
        )
    return list(dict.fromkeys(clean_title(a, config, "alias") for a in aliases))
