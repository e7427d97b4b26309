"""Markdown-aware chunking with exact character offsets and content-hash identity.

A chunk is always a contiguous slice `body[start:end]` of its note, so a citation of a chunk
points at exactly that text. Headings are never inside a chunk's packing decision: each
heading opens a new section, and every chunk carries the heading path in force at its start.
Fenced code blocks and tables are atomic blocks (never split mid-way, even when long).
The identity of a chunk is a hash of what gets embedded (title, heading path, text), so an
edit re-embeds only the chunks whose text changed.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from dataclasses import dataclass

HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")
FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
PAGE_MARKER = re.compile(r"<!-- page (\d+) -->")


@dataclass(frozen=True, slots=True)
class ChunkSpec:
    """Sizes in characters: about 4 characters a token, so 1,200 ≈ 300 tokens."""

    max_chars: int = 1200
    overlap_chars: int = 150


@dataclass(frozen=True, slots=True)
class Chunk:
    start: int
    end: int
    text: str
    heading_path: tuple[str, ...]
    page: int | None
    content_hash: str


@dataclass(frozen=True, slots=True)
class _Block:
    start: int
    end: int
    atomic: bool  # a code fence or a table: never split


def _lines(body: str) -> list[tuple[int, int, str]]:
    """(start, end-without-newline, text) of each line."""
    out: list[tuple[int, int, str]] = []
    pos = 0
    for line in body.splitlines(keepends=True):
        text = line.rstrip("\r\n")
        out.append((pos, pos + len(text), text))
        pos += len(line)
    return out


def _sections(body: str) -> list[tuple[tuple[str, ...], list[_Block]]]:
    """Split into sections (a heading path and its blocks); blocks are paragraphs, fences
    and tables, separated by blank lines."""
    sections: list[tuple[tuple[str, ...], list[_Block]]] = [((), [])]
    path: list[tuple[int, str]] = []
    lines = _lines(body)
    i = 0
    para: list[tuple[int, int]] = []

    def flush() -> None:
        if para:
            sections[-1][1].append(_Block(para[0][0], para[-1][1], False))
            para.clear()

    while i < len(lines):
        start, end, text = lines[i]
        fence = FENCE.match(text)
        heading = HEADING.match(text)
        if fence:
            flush()
            marker = fence.group(1)
            j = i + 1
            while j < len(lines) and not lines[j][2].lstrip().startswith(marker):
                j += 1
            last = min(j, len(lines) - 1)
            sections[-1][1].append(_Block(start, lines[last][1], True))
            i = last + 1
            continue
        if heading:
            flush()
            level = len(heading.group(1))
            path = [(lv, t) for lv, t in path if lv < level] + [(level, heading.group(2).strip())]
            sections.append((tuple(t for _, t in path), []))
            i += 1
            continue
        if text.lstrip().startswith("|"):
            flush()
            j = i
            while j + 1 < len(lines) and lines[j + 1][2].lstrip().startswith("|"):
                j += 1
            sections[-1][1].append(_Block(start, lines[j][1], True))
            i = j + 1
            continue
        if not text.strip() or PAGE_MARKER.fullmatch(text.strip()):
            flush()
        else:
            para.append((start, end))
        i += 1
    flush()
    return [(p, b) for p, b in sections if b]


def _split_long(body: str, block: _Block, spec: ChunkSpec) -> list[_Block]:
    """A paragraph longer than a chunk, cut at sentence (else word) boundaries into pieces
    short enough that a piece plus the overlap still fits in one chunk."""
    out: list[_Block] = []
    start = block.start
    size = max(spec.max_chars - spec.overlap_chars, spec.max_chars // 2)
    while block.end - start > size:
        limit = start + size
        window = body[start:limit]
        cut = max(window.rfind(". "), window.rfind("! "), window.rfind("? "), window.rfind("\n"))
        if cut < size // 3:
            cut = window.rfind(" ")
        end = start + cut + 1 if cut > 0 else limit
        out.append(_Block(start, end, False))
        start = end
        while start < block.end and body[start].isspace():
            start += 1
    if start < block.end:
        out.append(_Block(start, block.end, False))
    return out


def _overlap_start(body: str, prev_end: int, floor: int, spec: ChunkSpec) -> int:
    """Where a continuation chunk starts: `overlap_chars` back from the previous end, at a
    word boundary, never before the section's first block."""
    start = max(floor, prev_end - spec.overlap_chars)
    while start < prev_end and start > floor and not body[start - 1].isspace():
        start += 1
    return start


def content_hash(title: str, heading_path: tuple[str, ...], text: str) -> str:
    raw = "\x1f".join([title, *heading_path, "\x1e", text])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def embed_text(title: str, heading_path: tuple[str, ...], text: str) -> str:
    """What the embedder sees: the title and heading path give a chunk its context."""
    head = " > ".join(p for p in (title, *heading_path) if p)
    return f"{head}\n{text}" if head else text


def chunk_markdown(body: str, *, title: str = "", spec: ChunkSpec | None = None) -> list[Chunk]:
    spec = spec or ChunkSpec()
    pages = [(m.start(), int(m.group(1))) for m in PAGE_MARKER.finditer(body)]
    page_offsets = [p for p, _ in pages]

    def page_at(offset: int) -> int | None:
        if not pages:
            return None
        i = bisect_right(page_offsets, offset) - 1
        return pages[i][1] if i >= 0 else None

    chunks: list[Chunk] = []

    def emit(start: int, end: int, path: tuple[str, ...]) -> None:
        text = body[start:end]
        if text.strip():
            chunks.append(
                Chunk(start, end, text, path, page_at(start), content_hash(title, path, text))
            )

    for path, blocks in _sections(body):
        pieces: list[_Block] = []
        for b in blocks:
            too_long = b.end - b.start > spec.max_chars
            pieces.extend(_split_long(body, b, spec) if too_long and not b.atomic else [b])
        floor = pieces[0].start
        cur_start: int | None = None
        cur_end = 0
        for piece in pieces:
            if cur_start is None:
                cur_start, cur_end = piece.start, piece.end
            elif piece.end - cur_start <= spec.max_chars:
                cur_end = piece.end
            else:
                emit(cur_start, cur_end, path)
                cur_start = _overlap_start(body, cur_end, floor, spec)
                if piece.atomic or piece.end - cur_start > spec.max_chars:
                    cur_start = piece.start  # no overlap rather than an oversized chunk
                cur_end = piece.end
        if cur_start is not None:
            emit(cur_start, cur_end, path)
    return chunks
