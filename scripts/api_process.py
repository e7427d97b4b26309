"""One api process under uvicorn: spawn it, wait until it answers, read its log, stop it.

Shared by the e2e tests (`tests/e2e/conftest.py`) and every `scripts/bench_*.py` that talks
to the api over the network, so all of them start the server the same way as production
does (`python -m server.serve`: one uvicorn worker, proxy headers off: the client address is
the socket's, and only `TRUSTED_PROXIES` may change it inside the app).

    env = api_env(mongo.url, redis.url, "bench_x", log_level="WARNING", **FAST_HASHING)
    with ApiProcess(env, log_path=tmp / "api.log") as api:
        api.wait_ready_sync()            # or: await api.wait_ready()
        httpx.get(f"{api.base}/health/ready")
    # stopped here (SIGTERM, SIGKILL after 15 s); api.log_text() stays readable

The process gets its own session and, on Linux, SIGTERM when the spawning thread dies, so a
killed test run or benchmark leaves no server behind. Needs only the stdlib and httpx.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

from scripts.services_base import HOST, free_port, log_tail, popen_logged, stop_pid

ROOT = Path(__file__).resolve().parents[1]
APP = "server.app:create_app"
READY_PATH = "/health/ready"

# Cheap password hashing: registration in tests and benchmarks is setup, not what is measured.
FAST_HASHING: dict[str, object] = {
    "argon2_time_cost": 1,
    "argon2_memory_kib": 8192,
    "argon2_parallelism": 1,
}


def api_env(mongo_url: str, redis_url: str, db: str, **settings: object) -> dict[str, str]:
    """The process environment for the api: ours plus the databases and `settings`.

    Settings are given by their field name (`log_level="INFO"`) and become the upper-case
    variable `server/settings.py` reads; `None` removes an inherited variable.
    """
    env = dict(os.environ)
    env.update(
        {
            "MONGODB_URL": mongo_url,
            "MONGODB_DB": db,
            "REDIS_URL": redis_url,
            "PYTHONUNBUFFERED": "1",  # logs are read while the process runs
        }
    )
    for name, value in settings.items():
        if value is None:
            env.pop(name.upper(), None)
        else:
            env[name.upper()] = str(value)
    return env


class ApiProcess:
    """`python -m server.serve --app APP` on 127.0.0.1, a free port (or `port`), log to a file."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        log_path: Path,
        app: str = APP,
        port: int | None = None,
        log_level: str | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.port = port or free_port()
        self.log_path = log_path
        # server.serve is the production entry point: no access log (the app writes its own,
        # without query strings), proxy headers off (X-Forwarded-For is the app's business,
        # TRUSTED_PROXIES), the WebSocket message limit from WS_MAX_FRAME_BYTES.
        cmd = [
            sys.executable, "-m", "server.serve",
            "--app", app,
            "--host", HOST,
            "--port", str(self.port),
        ]  # fmt: skip
        if log_level:
            cmd += ["--log-level", log_level]
        cmd += list(extra_args)
        self.proc = popen_logged(cmd, log_path, ROOT, die_with_parent=True, env=env)

    # ------------------------------------------------------------------ addresses

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://{HOST}:{self.port}/ws"

    # ------------------------------------------------------------------ readiness

    def _check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"api {self.app} exited with {self.proc.returncode}:\n{log_tail(self.log_path)}"
            )

    def _not_ready(self, path: str, timeout: float) -> RuntimeError:
        return RuntimeError(
            f"{self.base}{path} did not answer 200 within {timeout:.0f} s:\n"
            f"{log_tail(self.log_path)}"
        )

    async def wait_ready(self, timeout: float = 60.0, path: str = READY_PATH) -> float:
        """Wait until `path` answers 200; the seconds it took. Raises with the log tail."""
        started = time.monotonic()
        async with httpx.AsyncClient() as client:
            while time.monotonic() - started < timeout:
                self._check_alive()
                try:
                    if (await client.get(f"{self.base}{path}", timeout=2)).status_code == 200:
                        return time.monotonic() - started
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise self._not_ready(path, timeout)

    def wait_ready_sync(self, timeout: float = 60.0, path: str = READY_PATH) -> float:
        """`wait_ready` for synchronous callers (scripts, sync tests)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            self._check_alive()
            try:
                if httpx.get(f"{self.base}{path}", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise self._not_ready(path, timeout)

    # ------------------------------------------------------------------ inspection

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def rss_kib(self) -> int:
        """Resident memory of the server process, from /proc (Linux)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    # ------------------------------------------------------------------ stopping

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (a graceful uvicorn shutdown), SIGKILL after `timeout`. Idempotent."""
        stop_pid(self.proc.pid, timeout=timeout, popen=self.proc)
        self.proc.wait()

    def kill(self) -> None:
        """SIGKILL at once: a crashed process (no shutdown hooks run)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def __enter__(self) -> ApiProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def register_user(http: httpx.AsyncClient, prefix: str) -> tuple[dict[str, str], str]:
    """Register a fresh user through the api: (bearer headers, the user's realtime channel)."""
    name = f"{prefix}{int(time.time())}"
    r = await http.post(
        "/api/v1/auth/register",
        json={"username": name, "email": f"{name}@e.com", "password": f"{prefix} pass 1234567"},
    )
    r.raise_for_status()
    body = r.json()
    return {"Authorization": f"Bearer {body['accessToken']}"}, f"user:{body['user']['id']}"
