"""The outbox: `enqueue` stores a rendered message; `drain` (the SAQ job) sends due ones.

A message is claimed with a lease (`sending`, `lease_until`), so several workers never send
the same one and a crashed worker's claim expires. Failures retry with exponential backoff
(`retry_base * 2**attempts`) up to `max_attempts`, then the message is marked `failed`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from auth.email.documents import OutboxEmail
from auth.email.senders import EmailSender, build_message
from auth.email.templates import render
from server.core.clock import utcnow

log = logging.getLogger("auth.email")


@dataclass(frozen=True, slots=True)
class EmailConfig:
    sender_address: str
    public_base_url: str
    app_name: str = "Second Brain"
    max_attempts: int = 6
    retry_base_seconds: int = 30
    lease_seconds: int = 120


class Outbox:
    def __init__(self, sender: EmailSender, config: EmailConfig) -> None:
        self._sender = sender
        self.config = config

    def link(self, path: str, token: str) -> str:
        return f"{self.config.public_base_url.rstrip('/')}{path}?token={token}"

    async def enqueue(
        self, kind: str, to: str, context: dict[str, Any], *, user_id: ObjectId | None = None
    ) -> OutboxEmail:
        subject, text, html = render(kind, {"app": self.config.app_name, **context})
        mail = OutboxEmail(kind=kind, to=to, subject=subject, text=text, html=html, user_id=user_id)
        await mail.insert()
        return mail

    async def _claim(self) -> OutboxEmail | None:
        now = utcnow()
        doc = await OutboxEmail.get_pymongo_collection().find_one_and_update(
            {
                "$or": [
                    {"status": "pending", "next_attempt_at": {"$lte": now}},
                    {"status": "sending", "lease_until": {"$lt": now}},
                ]
            },
            {
                "$set": {
                    "status": "sending",
                    "lease_until": now + timedelta(seconds=self.config.lease_seconds),
                },
                "$inc": {"attempts": 1},
            },
            sort=[("next_attempt_at", 1)],
            return_document=ReturnDocument.AFTER,
        )
        return OutboxEmail.model_validate(doc) if doc else None

    async def drain(self, limit: int = 100) -> dict[str, int]:
        """Send up to `limit` due messages; returns counts of sent, retried and failed ones."""
        counts = {"sent": 0, "retried": 0, "failed": 0}
        for _ in range(limit):
            mail = await self._claim()
            if mail is None:
                break
            collection = OutboxEmail.get_pymongo_collection()
            try:
                message = build_message(
                    self.config.sender_address, mail.to, mail.subject, mail.text, mail.html
                )
                await self._sender.send(message)
            except Exception as exc:  # any transport failure is retried later
                final = mail.attempts >= self.config.max_attempts
                delay = self.config.retry_base_seconds * 2 ** (mail.attempts - 1)
                await collection.update_one(
                    {"_id": mail.id},
                    {
                        "$set": {
                            "status": "failed" if final else "pending",
                            "next_attempt_at": utcnow() + timedelta(seconds=delay),
                            "lease_until": None,
                            "last_error": f"{type(exc).__name__}: {exc}"[:500],
                        }
                    },
                )
                counts["failed" if final else "retried"] += 1
                log.warning(
                    "e-mail not sent",
                    extra={"kind": mail.kind, "attempts": mail.attempts, "final": final},
                )
                continue
            await collection.update_one(
                {"_id": mail.id},
                {"$set": {"status": "sent", "sent_at": utcnow(), "lease_until": None}},
            )
            counts["sent"] += 1
        return counts
