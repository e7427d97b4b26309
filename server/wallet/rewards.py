"""Signed reward callbacks: HMAC-SHA256 over the raw body, deduplicated by `eventId`.

The sender signs the exact bytes it posts: header `X-Reward-Signature: sha256=<hex>`
(the bare hex digest is accepted too), key = the `REWARD_WEBHOOK_SECRET` setting.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Reward-Signature"


def sign(secret: str, body: bytes) -> str:
    """The header value a sender puts on `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    if not secret or not header:
        return False
    presented = header.strip()
    if presented.lower().startswith("sha256="):
        presented = presented[7:]
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, presented.lower())
