"""Sources and citations of one answer (issue 13 part 5).

`notes_search` registers each hit it shows the model as a numbered source (`Sources.add`,
after checking that the cited span of the note body, read as the user, still hashes to the
chunk: a citation always points at text the user can open). The model writes `[n]` after
what it took from source n; `CitationStream` rewrites the streamed answer: markers become
1..k in order of first use, a marker citing nothing is dropped, and each newly used source
comes out as a citation (sent as a `citation` event just before the text that cites it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from server.search.chunker import content_hash

_MARKER = re.compile(r"(\s?)\[(\d{1,3})\]")
_PARTIAL = re.compile(r"\s?\[\d{0,3}$")  # a marker that may still be completed by the next piece


@dataclass(frozen=True, slots=True)
class Source:
    number: int  # as the model sees it in the tool result
    note_id: str
    chunk_id: str
    title: str
    heading_path: tuple[str, ...]
    start: int
    end: int
    page: int | None

    def citation(self, index: int) -> dict[str, Any]:
        out: dict[str, Any] = {
            "index": index,
            "noteId": self.note_id,
            "chunkId": self.chunk_id,
            "title": self.title,
            "headingPath": list(self.heading_path),
            "start": self.start,
            "end": self.end,
        }
        if self.page is not None:
            out["page"] = self.page
        return out


@dataclass
class Sources:
    """The sources shown to the model during one run, numbered from 1 (a chunk found twice
    keeps its number)."""

    items: dict[int, Source] = field(default_factory=dict)
    by_chunk: dict[str, int] = field(default_factory=dict)
    seeded: bool = False  # the earlier searches in the model's context are known

    def add(
        self,
        *,
        note_id: str,
        chunk_id: str,
        title: str,
        heading_path: list[str] | tuple[str, ...],
        start: int,
        end: int,
        page: int | None,
    ) -> int:
        known = self.by_chunk.get(chunk_id)
        if known is not None:
            return known
        number = max(self.items, default=0) + 1
        self.items[number] = Source(
            number, note_id, chunk_id, title, tuple(heading_path), start, end, page
        )
        self.by_chunk[chunk_id] = number
        return number

    def get(self, number: int) -> Source | None:
        return self.items.get(number)

    async def seed(
        self, results: Iterable[str], body_of: Callable[[str], Awaitable[str | None]]
    ) -> None:
        """Take over the numbered hits of earlier `notes_search` results (JSON strings) the
        model still sees — of a run paused for an approval, or of an earlier turn — so a
        `[n]` naming one of them still resolves; each is checked again against the note body
        as the user reads it now (`body_of`: None when unreadable) and left out if its span
        changed. New hits are numbered after them."""
        if self.seeded:
            return
        self.seeded = True
        bodies: dict[str, str | None] = {}
        for result in results:
            try:
                hits = json.loads(result).get("hits") or []
            except (ValueError, AttributeError):
                continue  # trimmed or not ours: nothing to take over
            for hit in hits:
                try:
                    number, note_id, chunk_id = int(hit["source"]), hit["noteId"], hit["chunkId"]
                    start, end = int(hit["start"]), int(hit["end"])
                    title, path = str(hit["title"]), tuple(hit["headingPath"])
                except (KeyError, TypeError, ValueError):
                    continue
                if number in self.items or chunk_id in self.by_chunk:
                    continue
                if note_id not in bodies:
                    bodies[note_id] = await body_of(note_id)
                body = bodies[note_id]
                if body is None or not span_matches(body, title, path, start, end, chunk_id):
                    continue
                page = hit.get("page")
                self.items[number] = Source(
                    number, note_id, chunk_id, title, path, start, end, page
                )
                self.by_chunk[chunk_id] = number


def span_matches(
    body: str, title: str, heading_path: Iterable[str], start: int, end: int, chunk_id: str
) -> bool:
    """True when body[start:end] is still the text the chunk was made of (its id carries the
    content hash of title, heading path and text)."""
    parts = chunk_id.split(":")
    if len(parts) < 2 or not 0 <= start < end <= len(body):
        return False
    return content_hash(title, tuple(heading_path), body[start:end]) == parts[1]


@dataclass
class CitationStream:
    """Rewrites `[n]` markers of a streamed answer; holds back a piece's trailing `[12` until
    the next piece says whether it is a marker."""

    sources: Sources
    used: dict[int, int] = field(default_factory=dict)  # model's number -> shown index
    citations: list[dict[str, Any]] = field(default_factory=list)
    _held: str = ""

    def feed(self, piece: str) -> tuple[str, list[dict[str, Any]]]:
        """(text to send now, citations first used in it)."""
        text = self._held + piece
        partial = _PARTIAL.search(text)
        if partial is not None:
            self._held, text = text[partial.start() :], text[: partial.start()]
        else:
            self._held = ""
        return self._rewrite(text)

    def flush(self) -> tuple[str, list[dict[str, Any]]]:
        text, self._held = self._held, ""
        return self._rewrite(text)

    def _rewrite(self, text: str) -> tuple[str, list[dict[str, Any]]]:
        new: list[dict[str, Any]] = []

        def replace(match: re.Match[str]) -> str:
            space, number = match.group(1), int(match.group(2))
            if number not in self.used:
                source = self.sources.get(number)
                if source is None:
                    return ""  # cites nothing: dropped (with the space before it)
                self.used[number] = len(self.used) + 1
                citation = source.citation(self.used[number])
                self.citations.append(citation)
                new.append(citation)
            return f"{space}[{self.used[number]}]"

        return _MARKER.sub(replace, text), new


def rewrite(text: str, sources: Sources) -> tuple[str, list[dict[str, Any]]]:
    """A whole answer at once (what the stream produces piece by piece)."""
    stream = CitationStream(sources)
    head, first = stream.feed(text)
    tail, rest = stream.flush()
    return head + tail, first + rest


SPOKEN_MARKER = re.compile(r"\s?\[\d{1,3}\]")


def spoken(text: str) -> str:
    """The answer without its `[n]` markers (for text-to-speech)."""
    return SPOKEN_MARKER.sub("", text)
