"""Edits that reach a note outside its live document (REST, agents, revision restores)
are applied to the Y.Doc as an update, so REST and live editors never overwrite each other.

The change is taken as one replaced region (common prefix and suffix of the old and new
text) and moved onto the live text: when live editors changed other parts of the text
since the last materialisation, the region is shifted past their edits; when they touched
the same region, the REST text is inserted before theirs and nothing of theirs is deleted.
The update is appended to the log and relayed to every process's room like any other.
Materialisation itself (live text → note) is marked with `materialising` and skipped here.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from bson import ObjectId
from pycrdt import Doc, Text
from redis.asyncio import Redis

from realtime.collab.protocol import EMPTY_UPDATE
from realtime.collab.room import NO_ORIGIN, RELAY_UPDATE, relay_name
from realtime.collab.store import CollabStore

materialising: ContextVar[bool] = ContextVar("collab_materialising", default=False)

Edit = tuple[int, int, str]  # replace current[start:end] (str indices) with the text


def _affixes(a: str, b: str) -> tuple[int, int]:
    """Lengths of the common prefix and (non-overlapping) common suffix."""
    n = min(len(a), len(b))
    p = 0
    while p < n and a[p] == b[p]:
        p += 1
    s = 0
    while s < n - p and a[len(a) - 1 - s] == b[len(b) - 1 - s]:
        s += 1
    return p, s


def rebase(old: str, new: str, current: str) -> list[Edit]:
    """The change old → new, placed onto `current` (old plus unmaterialised live edits),
    as edits to apply in order (from the back, so earlier positions stay valid)."""
    if old == new:
        return []
    p, s = _affixes(old, new)
    start, end, text = p, len(old) - s, new[p : len(new) - s]
    if current == old:
        return [(start, end, text)]
    q, r = _affixes(old, current)
    live_start, live_end = q, len(old) - r
    delta = len(current) - len(old)
    if end <= live_start or (start >= live_end and not start == end == live_start):
        shift = 0 if end <= live_start else delta
        return [(start + shift, end + shift, text)]
    # The same region: delete only what lies outside the live editors' text, and insert
    # the REST text before theirs.
    edits: list[Edit] = []
    if end > live_end:
        edits.append((max(start, live_end) + delta, end + delta, ""))
    if start < live_start:
        edits.append((start, live_start, ""))
    edits.append((min(start, live_start), min(start, live_start), text))
    return edits


def apply_edits(text: Text, current: str, edits: list[Edit]) -> None:
    """pycrdt counts UTF-8 bytes."""
    for start, end, insert in edits:
        b_start = len(current[:start].encode("utf-8"))
        b_end = b_start + len(current[start:end].encode("utf-8"))
        if b_end > b_start:
            del text[b_start:b_end]
        if insert:
            text.insert(b_start, insert)
        current = current[:start] + insert + current[end:]


class LiveEdits:
    def __init__(self, store: CollabStore, redis: Redis) -> None:
        self.store = store
        self.redis = redis

    async def note_changed(
        self, note_id: ObjectId, old: tuple[str, str], new: tuple[str, str]
    ) -> bool:
        """(title, body) before and after a committed change; True if the document moved."""
        if materialising.get() or old == new:
            return False
        if not await self.store.exists(note_id):
            return False  # no live document yet: it is seeded from the note when opened
        loaded = await self.store.load(note_id)
        doc: Doc[Any] = Doc()
        if loaded.snapshot is not None:
            doc.apply_update(loaded.snapshot)
        for update in loaded.updates:
            doc.apply_update(update)
        before = doc.get_state()
        with doc.transaction():
            for name, was, now in (("title", old[0], new[0]), ("body", old[1], new[1])):
                text = doc.get(name, type=Text)
                current = str(text)
                apply_edits(text, current, rebase(was, now, current))
        update = doc.get_update(before)
        if update == EMPTY_UPDATE:
            return False
        await self.store.append(note_id, [update])
        await self.redis.publish(relay_name(note_id), RELAY_UPDATE + NO_ORIGIN + update)
        return True
