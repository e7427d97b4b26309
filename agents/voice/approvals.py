"""Approvals by voice: what a spoken yes/no means, the sentence that asks, and the broker
that lets a tap in the app and a spoken answer race for one decision (first one wins).

The worker registers a pending approval in Redis (`voice:approval:<id>` = owner, with a
TTL); a decision is `SET NX` on `voice:approval:<id>:decision`, so a tap and a spoken answer
can never both decide; the winner is published on `voice:approval:<id>:decided` so the
worker waiting on a spoken answer learns of a tap at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from agents.approvals import ApprovalDecided
from server.core.errors import NotFound

_YES = {
    "yes", "yeah", "yep", "yup", "sure", "ok", "okay", "approve", "approved", "confirm",
    "confirmed", "correct", "affirmative", "absolutely", "definitely", "proceed", "ja", "oui",
    "si", "go",
}  # fmt: skip
_NO = {
    "no", "nope", "nah", "don't", "dont", "do not", "cancel", "stop", "deny", "decline",
    "refuse", "reject", "negative", "never", "abort", "wait", "nein", "non",
}  # fmt: skip
_PHRASES_YES = ("go ahead", "do it", "please do", "that's right", "sounds good")
_WORD = re.compile(r"[a-z']+")


def parse_yes_no(text: str) -> bool | None:
    """True for a clear yes, False for a clear no, None when unclear. A "no" anywhere wins
    ("yes, no, wait" is not an approval): refusing by mistake is cheap, approving is not."""
    lowered = text.lower().replace("\u2019", "'")
    words = _WORD.findall(lowered)
    joined = " ".join(words)
    if any(w in _NO for w in words) or "do not" in joined or "not now" in joined:
        return False
    if any(w in _YES for w in words) or any(p in joined for p in _PHRASES_YES):
        return True
    return None


def spoken_action(tool: str, args: dict[str, Any]) -> str:
    """`wallet_transfer {to: mom, amount: 20}` -> "wallet transfer: to mom, amount 20"."""
    parts = [f"{k.replace('_', ' ')} {v}" for k, v in args.items() if v not in (None, "")]
    name = tool.replace("_", " ")
    return f"{name}: {', '.join(parts)}" if parts else name


def approval_prompt(tool: str, args: dict[str, Any]) -> str:
    action = spoken_action(tool, args)
    return f"Before I do that, please confirm: {action}. Shall I go ahead? Say yes or no."


@dataclass(frozen=True, slots=True)
class Decision:
    approved: bool
    by: str  # "voice" | "tap" | "timeout"


def _key(approval_id: str) -> str:
    return f"voice:approval:{approval_id}"


class ApprovalBroker:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def register(
        self, approval_id: str, *, user_id: str, chat_session_id: str, ttl: float
    ) -> None:
        owner = json.dumps({"userId": user_id, "chatSessionId": chat_session_id})
        await self._redis.set(_key(approval_id), owner, ex=max(1, int(ttl) + 60))

    async def decide(
        self,
        approval_id: str,
        *,
        user_id: str,
        chat_session_id: str,
        approved: bool,
        by: str,
    ) -> Decision:
        """Record the decision if none was made yet; raises when the approval is not this
        user's pending one (404) or was already decided (409)."""
        raw = await self._redis.get(_key(approval_id))
        owner = json.loads(raw) if raw else None
        if (
            owner is None
            or owner.get("userId") != user_id
            or owner.get("chatSessionId") != chat_session_id
        ):
            raise NotFound("No such pending voice approval.", code="APPROVAL_NOT_FOUND")
        value = json.dumps({"approved": approved, "by": by})
        ttl = await self._redis.ttl(_key(approval_id))
        won = await self._redis.set(
            f"{_key(approval_id)}:decision", value, nx=True, ex=max(60, int(ttl))
        )
        if not won:
            raise ApprovalDecided()
        await self._redis.publish(f"{_key(approval_id)}:decided", value)
        return Decision(approved, by)

    async def decision(self, approval_id: str) -> Decision | None:
        raw = await self._redis.get(f"{_key(approval_id)}:decision")
        if raw is None:
            return None
        data = json.loads(raw)
        return Decision(bool(data["approved"]), str(data["by"]))

    async def wait(self, approval_id: str, timeout: float) -> Decision | None:
        """The decision (made elsewhere) or None after `timeout` seconds."""
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(f"{_key(approval_id)}:decided")
            existing = await self.decision(approval_id)
            if existing is not None:
                return existing
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while (left := deadline - loop.time()) > 0:
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=min(left, 1.0)
                )
                if message is not None:
                    data = json.loads(message["data"])
                    return Decision(bool(data["approved"]), str(data["by"]))
            return None
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe()
            with contextlib.suppress(Exception):
                await pubsub.aclose()
