"""The `embedded` backend: exact vector scoring and BM25 over every chunk, in the api process.

Each api process loads the chunks from MongoDB once, then follows the indexer's change
stream (`search:changes`): before answering, it re-reads the chunks of every note changed
since its last look, so an edit indexed by the worker is found by every process.

Access control is inside retrieval: a query names the space ids the actor may read, and
rows of any other space are masked out *before* anything is scored into a ranking — BM25's
document frequencies and average length are computed over the readable rows only, so a
chunk the actor cannot read changes neither the ranking nor any count.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from bson import ObjectId
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from server.search.documents import SearchChunk
from server.search.indexer import CHANGES_STREAM
from server.search.text import terms
from server.search.vectors import decode_vector

PROJECTION = {
    "chunk_id": 1, "note_id": 1, "space_id": 1, "title": 1, "tags": 1, "heading_path": 1,
    "text": 1, "start": 1, "end": 1, "page": 1, "vector": 1,
}  # fmt: skip


@dataclass(slots=True)
class Row:
    chunk_id: str
    note_id: str
    space_id: str
    title: str
    tags: list[str]
    heading_path: list[str]
    text: str
    start: int
    end: int
    page: int | None


@dataclass(slots=True)
class Postings:
    rows: list[int] = field(default_factory=list)
    tfs: list[int] = field(default_factory=list)
    spaces: dict[int, int] = field(default_factory=dict)  # live rows holding it, per space
    cache: tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]] | None = None

    def arrays(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        if self.cache is None or len(self.cache[0]) != len(self.rows):
            self.cache = (np.asarray(self.rows, np.int64), np.asarray(self.tfs, np.float32))
        return self.cache


@dataclass(frozen=True, slots=True)
class BM25Params:
    """k1 0.9, b 0.4 (Anserini's MS MARCO defaults; better than 1.2/0.75 on the eval set)."""

    k1: float = 0.9
    b: float = 0.4


class EmbeddedIndex:
    def __init__(self, redis: Redis, *, dim: int = 256, bm25: BM25Params | None = None) -> None:
        self.redis = redis
        self.dim = dim
        self.bm25 = bm25 or BM25Params()
        self._lock = asyncio.Lock()
        self._loaded = False
        self._stream_id = "0-0"
        self._reset()

    def _reset(self) -> None:
        self.rows: list[Row | None] = []
        self._cap = 1024
        self.alive = np.zeros(self._cap, np.bool_)
        self.has_vec = np.zeros(self._cap, np.bool_)
        self.space = np.zeros(self._cap, np.int32)
        self.length = np.zeros(self._cap, np.float32)
        self.vectors = np.zeros((self._cap, self.dim), np.float32)
        self.postings: dict[str, Postings] = {}
        self.tag_rows: dict[str, list[int]] = {}
        self.note_rows: dict[str, list[int]] = {}
        self.space_codes: dict[str, int] = {}
        self.space_live: dict[int, int] = {}  # live rows per space code
        self.dead = 0

    # ------------------------------------------------------------------ building

    def _grow(self) -> None:
        cap = self._cap * 2
        for name in ("alive", "has_vec", "space", "length"):
            old = getattr(self, name)
            new = np.zeros(cap, old.dtype)
            new[: self._cap] = old
            setattr(self, name, new)
        vec = np.zeros((cap, self.dim), np.float32)
        vec[: self._cap] = self.vectors
        self.vectors = vec
        self._cap = cap

    def add(self, doc: dict[str, Any]) -> None:
        i = len(self.rows)
        if i >= self._cap:
            self._grow()
        row = Row(
            chunk_id=doc["chunk_id"],
            note_id=str(doc["note_id"]),
            space_id=str(doc["space_id"]),
            title=doc.get("title", ""),
            tags=list(doc.get("tags", [])),
            heading_path=list(doc.get("heading_path", [])),
            text=doc["text"],
            start=doc["start"],
            end=doc["end"],
            page=doc.get("page"),
        )
        self.rows.append(row)
        self.alive[i] = True
        self.space[i] = self.space_codes.setdefault(row.space_id, len(self.space_codes))
        v = decode_vector(doc.get("vector"))
        if v is not None and v.shape[0] == self.dim:
            self.vectors[i] = v
            self.has_vec[i] = True
        counts = _term_counts(row)
        self.length[i] = sum(counts.values())
        code = int(self.space[i])
        self.space_live[code] = self.space_live.get(code, 0) + 1
        for t, n in counts.items():
            p = self.postings.get(t)
            if p is None:
                p = self.postings[t] = Postings()
            p.rows.append(i)
            p.tfs.append(n)
            p.spaces[code] = p.spaces.get(code, 0) + 1
        for tag in row.tags:
            self.tag_rows.setdefault(tag, []).append(i)
        self.note_rows.setdefault(row.note_id, []).append(i)

    def remove_note(self, note_id: str) -> None:
        for i in self.note_rows.pop(note_id, []):
            row = self.rows[i]
            if self.alive[i] and row is not None:
                code = int(self.space[i])
                self.space_live[code] -= 1
                for t in _term_counts(row):
                    self.postings[t].spaces[code] -= 1
                self.alive[i] = False
                self.rows[i] = None
                self.dead += 1

    @property
    def size(self) -> int:
        return len(self.rows) - self.dead

    # ------------------------------------------------------------------ freshness

    async def _last_stream_id(self) -> str:
        last: Any = await self.redis.xrevrange(CHANGES_STREAM, count=1)
        return _text(last[0][0]) if last else "0-0"

    async def _full_load(self) -> None:
        self._reset()
        self._stream_id = await self._last_stream_id()  # changes after this are replayed
        async for doc in SearchChunk.get_pymongo_collection().find({}, PROJECTION):
            self.add(doc)
        self._loaded = True

    async def _reload_notes(self, note_ids: set[str]) -> None:
        for note_id in note_ids:
            self.remove_note(note_id)
        oids = [ObjectId(n) for n in note_ids if ObjectId.is_valid(n)]
        async for doc in SearchChunk.get_pymongo_collection().find(
            {"note_id": {"$in": oids}}, PROJECTION
        ):
            self.add(doc)

    async def _missed_trimmed(self) -> bool:
        """Were entries after the one we saw trimmed off the stream (XINFO's
        max-deleted-entry-id, Redis 7)?"""
        try:
            info = await self.redis.xinfo_stream(CHANGES_STREAM)
        except ResponseError:
            return False  # no stream yet
        deleted = info.get("max-deleted-entry-id")
        return deleted is not None and _id(deleted) > _id(self._stream_id)

    async def sync(self) -> None:
        """Catch up with the change stream (or load everything the first time)."""
        async with self._lock:
            if not self._loaded or (self.dead > 1000 and self.dead > len(self.rows) // 2):
                await self._full_load()
                return
            if await self._last_stream_id() == self._stream_id:
                return  # nothing new: one round trip per query
            while True:
                if await self._missed_trimmed():
                    await self._full_load()  # entries we never saw were trimmed away
                    return
                entries: Any = await self.redis.xrange(
                    CHANGES_STREAM, min=f"({self._stream_id}", count=5000
                )
                if not entries:
                    return
                self._stream_id = _text(entries[-1][0])
                notes = {_text(e[1].get(b"note") or e[1].get("note")) for e in entries}
                await self._reload_notes(notes)

    # ------------------------------------------------------------------ queries

    def mask(self, space_ids: list[str], tag: str | None = None) -> npt.NDArray[np.bool_]:
        n = len(self.rows)
        codes = [self.space_codes[s] for s in space_ids if s in self.space_codes]
        mask = self.alive[:n] & np.isin(self.space[:n], np.asarray(codes, np.int32))
        if tag is not None:
            tagged = np.zeros(n, np.bool_)
            tagged[np.asarray(self.tag_rows.get(tag, []), np.int64)] = True
            mask &= tagged
        return mask

    def lexical(self, query: str, mask: npt.NDArray[np.bool_], k: int) -> list[int]:
        weights: dict[str, float] = {}
        for t in terms(query):
            weights[t] = weights.get(t, 0.0) + 1.0
        return self.lexical_weighted(weights, mask, k)

    def doc_freq(self, term: str, mask: npt.NDArray[np.bool_]) -> int:
        """How many readable rows hold `term`."""
        return self.doc_freqs([term], mask)[term]

    def doc_freqs(self, words: list[str], mask: npt.NDArray[np.bool_]) -> dict[str, int]:
        """How many readable rows hold each term: from the per-space counts when `mask` is
        exactly the live rows of some spaces (no tag filter), else by reading the postings."""
        spaces = self._mask_spaces(mask)
        out: dict[str, int] = {}
        for t in words:
            p = self.postings.get(t)
            if p is None:
                out[t] = 0
            elif spaces is not None:
                out[t] = sum(p.spaces.get(c, 0) for c in spaces)
            else:
                out[t] = int(mask[p.arrays()[0]].sum())
        return out

    def _mask_spaces(self, mask: npt.NDArray[np.bool_]) -> list[int] | None:
        """The space codes `mask` is made of, if it is all the live rows of those spaces."""
        n = len(mask)
        if (mask & ~self.alive[:n]).any():
            return None
        counts = np.bincount(self.space[:n][mask], minlength=1)
        present = [int(c) for c in np.flatnonzero(counts)]
        whole = all(int(counts[c]) == self.space_live.get(c, 0) for c in present)
        return present if whole else None

    def lexical_weighted(
        self, weights: dict[str, float], mask: npt.NDArray[np.bool_], k: int
    ) -> list[int]:
        scores = self.lexical_scores(weights, mask)
        return _top(scores, scores > 0, k)

    def lexical_scores(
        self, weights: dict[str, float], mask: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.float32]:
        """BM25 (Lucene's idf) of weighted query terms for every row (0 outside `mask`),
        with statistics over the readable rows only. Additive over terms."""
        n = len(mask)
        n_docs = int(mask.sum())
        if n_docs == 0:
            return np.zeros(n, np.float32)
        lengths = self.length[:n]
        avgdl = float(lengths[mask].mean()) or 1.0
        scores = np.zeros(n, np.float32)
        k1, b = self.bm25.k1, self.bm25.b
        for t, w in weights.items():
            p = self.postings.get(t)
            if p is None or w <= 0:
                continue
            rows, tfs = p.arrays()
            keep = mask[rows]
            rows, tfs = rows[keep], tfs[keep]
            if rows.size == 0:
                continue
            idf = math.log(1 + (n_docs - rows.size + 0.5) / (rows.size + 0.5))
            dl = lengths[rows]
            scores[rows] += w * idf * tfs * (k1 + 1) / (tfs + k1 * (1 - b + b * dl / avgdl))
        return scores

    def semantic(
        self, vector: npt.NDArray[np.float32], mask: npt.NDArray[np.bool_], k: int
    ) -> list[int]:
        n = len(mask)
        valid = mask & self.has_vec[:n]
        if not valid.any():
            return []
        scores = self.vectors[:n] @ vector.astype(np.float32)
        return _top(scores, valid, k)

    def top(self, scores: npt.NDArray[np.float32], k: int) -> list[int]:
        """The k rows with the best positive scores, best first."""
        return _top(scores, scores > 0, k)

    def rescore(self, vector: npt.NDArray[np.float32], rows: list[int], k: int) -> list[int]:
        """The k of `rows` (already masked) closest to `vector`, best first."""
        if not rows:
            return []
        idx = np.asarray(rows, np.int64)
        scores = self.vectors[idx] @ vector.astype(np.float32)
        order = np.lexsort((idx, -scores))[:k]
        return [int(i) for i in idx[order]]

    def row(self, i: int) -> Row:
        row = self.rows[i]
        assert row is not None
        return row

    def note_vector(self, note_id: str) -> npt.NDArray[np.float32] | None:
        rows = [i for i in self.note_rows.get(note_id, []) if self.has_vec[i]]
        if not rows:
            return None
        v = self.vectors[rows].mean(axis=0)
        norm = float(np.linalg.norm(v))
        return (v / norm).astype(np.float32) if norm else None


def _term_counts(row: Row) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in terms(" ".join([row.title, *row.heading_path, row.text])):
        counts[t] = counts.get(t, 0) + 1
    return counts


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _id(value: Any) -> tuple[int, int]:
    ms, _, seq = _text(value).partition("-")
    return int(ms), int(seq or 0)


def _top(scores: npt.NDArray[np.float32], valid: npt.NDArray[np.bool_], k: int) -> list[int]:
    """Indices of the k best valid scores, best first (ties by row order)."""
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        return []
    s = scores[idx]
    if idx.size > k:
        part = np.argpartition(-s, k - 1)[:k]
        idx, s = idx[part], s[part]
    order = np.lexsort((idx, -s))
    return [int(i) for i in idx[order]]
