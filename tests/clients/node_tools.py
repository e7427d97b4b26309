"""Real JavaScript clients for the tests: npm packages pinned by a committed lockfile.

Each client lives in its own folder under `tests/clients/<name>/` with a `package.json` and a
`package-lock.json`. `npm_client(name)` runs `npm ci` there once per lockfile content (a stamp
file records the lockfile's hash), so a clean clone installs exactly the pinned versions and a
second run installs nothing. `run_node(...)` runs a script of that folder with Node 20.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

CLIENTS_DIR = Path(__file__).resolve().parent
_STAMP = ".installed-lock-sha256"


def node_or_skip() -> str:
    """Path of `node`; the test is skipped (with the reason) only where Node is not installed."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        pytest.skip("node/npm not on PATH (Debian packages nodejs and npm)")
    return node


def npm_client(name: str) -> Path:
    """Install `tests/clients/<name>` from its lockfile (idempotent) and return its folder."""
    node_or_skip()
    folder = CLIENTS_DIR / name
    lock = folder / "package-lock.json"
    if not lock.is_file():
        raise FileNotFoundError(f"{lock} is missing: commit the lockfile with the client")
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    stamp = folder / "node_modules" / _STAMP
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return folder
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=folder,
        check=True,
        timeout=600,
        env={**os.environ, "NODE_ENV": "development"},
    )
    stamp.write_text(digest)
    return folder


def run_node(
    name: str,
    script: str,
    *args: str,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `node <script> <args>` inside `tests/clients/<name>` and return the finished process."""
    folder = npm_client(name)
    return subprocess.run(
        [node_or_skip(), script, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
