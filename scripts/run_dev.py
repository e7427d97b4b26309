"""Run the app locally against the dev services (what ``make run`` and ``make worker`` do).

    python -m scripts.run_dev [--host 127.0.0.1] [--port 8000]   # SAQ worker + api (server.serve)
    python -m scripts.run_dev --worker-only                    # the SAQ worker alone

Starts (or reuses) the dev database and Redis through ``scripts.devservices``, exports
``MONGODB_URL`` and ``REDIS_URL`` (an already-set ``REDIS_URL``/``MONGODB_URL`` is kept),
keeps a random ``SECRET_KEY`` in ``.data/secret_key`` (unless one is set), then runs the
worker in the background and the api (``python -m server.serve``) in the foreground. When
the api exits (Ctrl-C, SIGTERM, crash) the worker is stopped too; when the worker dies, the
api is stopped. The dev services keep running; ``make stop`` stops them.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

if __package__ in (None, ""):  # run as a file: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.devservices import (
    DEFAULT_DATA_DIR,
    REPO_ROOT,
    DevPaths,
    ServiceError,
    dev_env,
    stop_pid,
)
from scripts.services_base import set_parent_death_signal

APP = "server.app:create_app"
BIN = Path(sys.executable).parent


def worker_cmd() -> list[str]:
    """The litestar-saq worker command."""
    return [str(BIN / "litestar"), "--app", APP, "workers", "run"]


def api_cmd(host: str, port: int) -> list[str]:
    """The api command: `server.serve` (uvicorn with proxy headers off, WS limits set)."""
    return [sys.executable, "-m", "server.serve", "--app", APP, "--host", host, "--port", str(port)]


def dev_secret_key(data_dir: Path) -> str:
    """A random signing key kept in `data_dir/secret_key`, made on first use (issue 15, F6).

    The published default in server/settings.py would let anyone mint admin tokens for a
    dev server reachable from the network; each data directory gets its own key instead.
    """
    path = data_dir / "secret_key"
    if path.exists():
        key = path.read_text().strip()
        if len(key) >= 32:
            return key
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def service_env() -> dict[str, str]:
    """Start (or reuse) the dev services and return the environment for the app."""
    subprocess.run(
        [sys.executable, "-m", "scripts.devservices", "start"], cwd=REPO_ROOT, check=True
    )
    env = {**os.environ, **dev_env(DevPaths(DEFAULT_DATA_DIR))}
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"] = dev_secret_key(DEFAULT_DATA_DIR)
    return env


def _spawn(cmd: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    preexec = set_parent_death_signal if sys.platform == "linux" else None
    return subprocess.Popen(
        list(cmd), env=env, cwd=REPO_ROOT, start_new_session=True, preexec_fn=preexec
    )


def run_all(host: str, port: int) -> int:
    """Worker in the background, api in the foreground; stop both together."""
    env = service_env()
    # Both children get their own session, so a terminal Ctrl-C reaches only this launcher,
    # which passes it on to uvicorn once; the worker is then stopped cleanly with SIGTERM.
    worker = _spawn(worker_cmd(), env)
    api = _spawn(api_cmd(host, port), env)

    def forward(signum: int, _frame: FrameType | None) -> None:
        if api.poll() is None:
            api.send_signal(signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    code = 0
    try:
        while True:
            if api.poll() is not None:
                code = api.returncode
                break
            if worker.poll() is not None:
                print(f"run_dev: the worker exited ({worker.returncode}); stopping the api")
                code = worker.returncode or 1
                break
            time.sleep(0.2)
    finally:
        for proc in (api, worker):
            if proc.poll() is None:
                stop_pid(proc.pid, 10.0, proc)
    return code


def run_worker() -> int:
    """Replace this process with the worker."""
    env = service_env()
    cmd = worker_cmd()
    os.chdir(REPO_ROOT)
    os.execve(cmd[0], cmd, env)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m scripts.run_dev", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="api bind address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="api port (8000)")
    parser.add_argument("--worker-only", action="store_true", help="run only the SAQ worker")
    args = parser.parse_args(argv)
    try:
        return run_worker() if args.worker_only else run_all(args.host, args.port)
    except (ServiceError, subprocess.CalledProcessError) as exc:
        print(f"run_dev: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
