"""In-process answers to "is this session still live?", for a bounded time.

Why: every authenticated request asked Redis (MGET of the live and revoked markers) before
anything else; on `GET /auth/me` that round trip was the largest single cost in the
profile. A positive answer is now kept for `seconds` (AUTH_HOT_CACHE_SECONDS): a session
revoked through another api process is refused there at most that long after its
revocation; one revoked through this process is refused at once (`forget`). Revocations
are remembered (bounded) so a revoked session never needs Redis again either. Redis and
then MongoDB stay the authority whenever the cache has no fresh answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

# Stand-ins for Redis's answer (`auth:sess:<id>`, `auth:revoked:<id>`) when the cache knew:
# compared by identity, so a cached answer never refreshes the cache itself.
HOT_LIVE: tuple[bytes, None] = (b"1", None)
HOT_REVOKED: tuple[None, bytes] = (None, b"revoked")


class HotSessions:
    __slots__ = ("_clock", "_live", "_max", "_revoked", "seconds")

    def __init__(
        self,
        seconds: float,
        *,
        max_entries: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self._max = max_entries
        self._clock = clock
        self._live: dict[str, float] = {}  # session id -> when it was last confirmed live
        self._revoked: dict[str, None] = {}  # insertion-ordered, bounded

    def get(self, session_id: str) -> bool | None:
        """True/False when known (live within `seconds`, or revoked); None: ask Redis."""
        if session_id in self._revoked:
            return False
        seen = self._live.get(session_id)
        if seen is not None and self._clock() - seen < self.seconds:
            return True
        return None

    def mark_live(self, session_id: str) -> None:
        if self.seconds <= 0 or session_id in self._revoked:
            return
        if len(self._live) >= self._max:
            self._prune()
        self._live[session_id] = self._clock()

    def forget(self, session_ids: Iterable[str]) -> None:
        """These sessions were revoked: refuse them from now on, without asking anyone."""
        for sid in session_ids:
            self._live.pop(sid, None)
            self._revoked[sid] = None
        while len(self._revoked) > self._max:
            del self._revoked[next(iter(self._revoked))]

    def _prune(self) -> None:
        cutoff = self._clock() - self.seconds
        self._live = {sid: at for sid, at in self._live.items() if at >= cutoff}
        if len(self._live) >= self._max:
            self._live.clear()
