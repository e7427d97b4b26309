"""The signed `requestState` of an approval elicitation (2026-07-28 `input_required`).

The client echoes it on its retry; the server keeps nothing between the two requests (any
api process can answer the retry). It carries the call id (the idempotency key of the tool
call), bound by an HMAC to the user and the tool, with the time it was issued.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

from server.core.actor import Actor
from server.core.text import ascii_digits


class RequestState:
    def __init__(
        self, secret: str, ttl_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = hashlib.sha256(b"mcp-request-state:" + secret.encode()).digest()
        self._ttl = ttl_seconds
        self._clock = clock

    def _sign(self, user_id: str, tool: str, call_id: str, issued: int) -> str:
        msg = f"{user_id}|{tool}|{call_id}|{issued}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()[:32]

    def issue(self, actor: Actor, tool: str, call_id: str) -> str:
        issued = int(self._clock())
        return f"{call_id}.{issued}.{self._sign(str(actor.user_id), tool, call_id, issued)}"

    def verify(self, state: str, actor: Actor, tool: str) -> str | None:
        """The call id, or None when the state is forged, someone else's, or expired."""
        parts = state.split(".")
        if len(parts) != 3 or not ascii_digits(parts[1]) or len(state) > 120:
            return None
        call_id, issued_text, sig = parts
        issued = int(issued_text)
        expected = self._sign(str(actor.user_id), tool, call_id, issued)
        if not hmac.compare_digest(sig, expected):
            return None
        if self._clock() - issued > self._ttl:
            return None
        return call_id
