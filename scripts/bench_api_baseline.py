"""Baseline for bench_api.py: a bare Litestar app doing the same `find_one` by id with raw
PyMongo and returning the same JSON as `GET /api/v1/auth/me` (no auth, no middleware)."""

from __future__ import annotations

import os
from typing import Any

from bson import ObjectId
from litestar import Litestar, get
from pymongo import AsyncMongoClient

_client: AsyncMongoClient[Any] | None = None


def _users() -> Any:
    global _client
    if _client is None:
        _client = AsyncMongoClient(os.environ["MONGODB_URL"], tz_aware=True)
    return _client[os.environ["MONGODB_DB"]]["users"]


@get("/me/{user_id:str}")
async def me(user_id: str) -> dict[str, Any]:
    user = await _users().find_one({"_id": ObjectId(user_id)})
    if user is None:
        return {}
    return {
        "id": str(user["_id"]),
        "username": user["username"],
        "email": user["email"],
        "emailVerified": user["email_verified"],
        "roles": sorted(user["roles"]),
        "createdAt": user["created_at"].isoformat().replace("+00:00", "Z"),
    }


def create_app() -> Litestar:
    return Litestar(route_handlers=[me], logging_config=None)
