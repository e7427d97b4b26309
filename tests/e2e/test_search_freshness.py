"""Freshness across api processes (issue 13): a note written on api A is found by a search
on api B once the real SAQ worker has indexed it, and an edit on A reaches B the same way
(B's embedded index follows the indexer's change stream)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.services_base import popen_logged, stop_pid
from tests.helpers import register

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


async def found(
    client: httpx.AsyncClient,
    user: dict[str, Any],
    q: str,
    mode: str,
    deadline_s: float,
    containing: str = "",
) -> tuple[list[str], float]:
    """Poll B's search until a hit's snippet contains `containing` (any hit if empty) or the
    deadline passes: (note ids of those hits, seconds)."""
    start = time.monotonic()
    while True:
        r = await client.get(
            "/api/v1/search", params={"q": q, "mode": mode}, headers=user["headers"]
        )
        assert r.status_code == 200, r.text
        ids = [h["noteId"] for h in r.json()["hits"] if containing in h["snippet"]]
        if ids or time.monotonic() - start > deadline_s:
            return ids, time.monotonic() - start
        await asyncio.sleep(0.1)


async def test_edit_on_one_api_is_found_on_another_with_the_worker(apis, tmp_path):
    a = await apis.start(app="server.app:create_app")
    b = await apis.start(app="server.app:create_app")
    worker = popen_logged(
        [str(BIN / "litestar"), "--app", "server.app:create_app", "workers", "run"],
        tmp_path / "worker.log",
        ROOT,
        True,
        env=apis.env(),
    )
    try:
        async with (
            httpx.AsyncClient(base_url=a.base, timeout=30) as on_a,
            httpx.AsyncClient(base_url=b.base, timeout=30) as on_b,
        ):
            me = await register(on_a)
            warm = await on_a.post(
                "/api/v1/notes", json={"title": "Warm", "body": "aardvark"}, headers=me["headers"]
            )
            assert warm.status_code == 201
            ids, _ = await found(on_b, me, "aardvark", "lexical", 90)  # the worker starting
            assert ids == [warm.json()["id"]], (tmp_path / "worker.log").read_text()[-3000:]

            note = await on_a.post(
                "/api/v1/notes",
                json={"title": "Pets", "body": "The wombat sleeps in the garden shed."},
                headers=me["headers"],
            )
            assert note.status_code == 201
            ids, lexical_s = await found(on_b, me, "wombat", "lexical", 10)
            assert ids == [note.json()["id"]]
            edit = await on_a.patch(
                f"/api/v1/notes/{note.json()['id']}",
                json={"body": "Now a platypus naps by the river.", "baseVersion": 1},
                headers=me["headers"],
            )
            assert edit.status_code == 200
            ids, semantic_s = await found(
                on_b, me, "platypus river", "semantic", 10, containing="platypus"
            )
            assert ids == [note.json()["id"]]  # the new text, found by meaning
            gone, _ = await found(on_b, me, "wombat", "lexical", 0)
            assert gone == []
            print(f"found on B: lexical {lexical_s:.2f} s, semantic after edit {semantic_s:.2f} s")
    finally:
        stop_pid(worker.pid)
