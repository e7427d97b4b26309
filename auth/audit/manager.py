"""Append to and read the audit chain; verify that nobody rewrote it.

Every record carries the hash of the one before it (`prev_hash`) and its own hash over all of
its fields. Appends race on the unique `seq`: the loser re-reads the head and tries again, so
the chain stays linear across any number of api processes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
from datetime import datetime
from typing import Any

from beanie import SortDirection
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from auth.audit.documents import AuditRecord
from auth.audit.schemas import AuditEventView, AuditPage, ChainReport
from auth.scopes import require_full_session
from server.core.actor import Actor
from server.core.clock import utcnow
from server.core.errors import Unprocessable
from server.core.text import ascii_digits

log = logging.getLogger("auth.audit")

GENESIS_HASH = "0" * 64
_MAX_ATTEMPTS = 200


def _clean(value: Any) -> Any:
    """Only JSON-stable values go into a record, so its hash recomputes after a round trip."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def record_hash(fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _hashed_fields(record: AuditRecord) -> dict[str, Any]:
    return {
        "seq": record.seq,
        "ts": record.ts.isoformat(),
        "event": record.event,
        "user_id": str(record.user_id) if record.user_id else None,
        "session_id": record.session_id,
        "auth_method": record.auth_method,
        "ip": record.ip,
        "user_agent": record.user_agent,
        "data": record.data,
        "prev_hash": record.prev_hash,
    }


class AuditLog:
    async def record(
        self,
        event: str,
        *,
        user_id: ObjectId | None = None,
        actor: Actor | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
        session_id: str | None = None,
        auth_method: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> AuditRecord:
        """Append one event (`noun.verb`, e.g. `login.succeeded`) to the chain."""
        if actor is not None:
            user_id = user_id or actor.user_id
            ip = ip or actor.client_ip
            user_agent = user_agent or actor.user_agent
            session_id = session_id or actor.session_id
            auth_method = auth_method or actor.auth_method
        collection = AuditRecord.get_pymongo_collection()
        clean = _clean(data or {})
        for _ in range(_MAX_ATTEMPTS):
            head = await collection.find_one({}, {"seq": 1, "hash": 1}, sort=[("seq", -1)])
            record = AuditRecord(
                seq=(head["seq"] + 1) if head else 1,
                ts=utcnow(),
                event=event,
                user_id=user_id,
                session_id=session_id,
                auth_method=auth_method,
                ip=ip,
                user_agent=(user_agent or "")[:300] or None,
                data=clean,
                prev_hash=head["hash"] if head else GENESIS_HASH,
                hash="",
            )
            record.hash = record_hash(_hashed_fields(record))
            try:
                await record.insert()
            except DuplicateKeyError:
                record.id = None
                await asyncio.sleep(random.random() * 0.01)
                continue
            return record
        raise RuntimeError("could not append to the audit chain")

    async def page(self, actor: Actor, cursor: str | None, limit: int) -> AuditPage:
        """The actor's own events, newest first; `cursor` is the `nextCursor` of the last page."""
        require_full_session(actor)  # API tokens never reach account security (agents too)
        query: dict[str, Any] = {"user_id": actor.user_id}
        if cursor:
            if not ascii_digits(cursor) or len(cursor) > 18:
                raise Unprocessable(
                    "The cursor is not valid.",
                    details=[{"field": "cursor", "source": "query", "message": "not a cursor"}],
                )
            query["seq"] = {"$lt": int(cursor)}
        docs = (
            await AuditRecord.find(query)
            .sort([("seq", SortDirection.DESCENDING)])
            .limit(limit + 1)
            .to_list()
        )
        more = len(docs) > limit
        docs = docs[:limit]
        return AuditPage(
            items=[
                AuditEventView(
                    id=str(d.seq),
                    event=d.event,
                    at=d.ts,
                    ip=d.ip,
                    user_agent=d.user_agent,
                    auth_method=d.auth_method,
                    data=d.data,
                )
                for d in docs
            ],
            next_cursor=str(docs[-1].seq) if more and docs else None,
        )

    async def verify(self) -> ChainReport:
        """Walk the whole chain: every hash recomputes and links to its predecessor, no gaps."""
        expected_prev = GENESIS_HASH
        expected_seq = 1
        count = 0
        cursor = AuditRecord.get_pymongo_collection().find({}, sort=[("seq", 1)])
        async for raw in cursor:
            record = AuditRecord.model_validate(raw)
            count += 1
            if record.seq != expected_seq:
                return ChainReport(
                    ok=False, records=count, broken_at=expected_seq, reason="missing record"
                )
            if record.prev_hash != expected_prev:
                return ChainReport(
                    ok=False, records=count, broken_at=record.seq, reason="broken link"
                )
            if record_hash(_hashed_fields(record)) != record.hash:
                return ChainReport(
                    ok=False, records=count, broken_at=record.seq, reason="record altered"
                )
            expected_prev = record.hash
            expected_seq += 1
        return ChainReport(ok=True, records=count)
