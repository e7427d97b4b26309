"""Helpers for the MCP tests: the official SDK client with a bearer token, API tokens, and an
administrator made with the CLI (for funding wallets of a real api process)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.helpers import PASSWORD, login, unique_name

ROOT = Path(__file__).resolve().parents[1]


@asynccontextmanager
async def mcp_client(base: str, token: str, **options: Any) -> AsyncIterator[Client]:
    """The SDK's `Client` over `mcp.client.streamable_http` with `Authorization: Bearer`."""
    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {token}"},
        timeout=httpx2.Timeout(30.0, read=60.0),
    )
    transport = streamable_http_client(f"{base}/mcp", http_client=http)
    async with http, Client(transport, **options) as client:
        yield client


async def api_token(
    client: httpx.AsyncClient, user: dict[str, Any], scopes: list[str]
) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/auth/tokens",
        json={"name": unique_name("mcp"), "scopes": scopes},
        headers=user["headers"],
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def cli_admin(client: httpx.AsyncClient, env: dict[str, str]) -> dict[str, Any]:
    """An administrator created by the CLI on the process's database, logged in over HTTP."""
    name = unique_name("adm")
    done = await asyncio.to_thread(
        subprocess.run,
        [
            str(Path(sys.executable).parent / "litestar"),
            "--app",
            "server.app:create_app",
            "users",
            "create-admin",
            "--username",
            name,
            "--email",
            f"{name}@example.com",
            "--password",
            PASSWORD,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    return await login(client, name)


def structured(result: Any) -> dict[str, Any]:
    data = result.structured_content
    assert isinstance(data, dict), result
    return data
