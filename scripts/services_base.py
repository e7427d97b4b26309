"""Building blocks for the local service processes: ports, URLs, pings, process control.

Used by ``scripts.services_spawn`` and ``scripts.devservices`` (whose docstring documents the
public API). Only the stdlib at import time; ``pymongo`` and ``redis`` are imported lazily.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

Kind = Literal["mongo", "redis"]

HOST = "127.0.0.1"
STOP_TIMEOUT = 10.0


class ServiceError(RuntimeError):
    """A service could not be found, started, reached or stopped."""


class ServiceExited(ServiceError):
    """The service process exited before it accepted connections."""


# --------------------------------------------------------------------------- ports and URLs


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when ``host:port`` can be bound for listening right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(preferred: int | None = None, host: str = HOST) -> int:
    """``preferred`` if it is free, else a port chosen by the kernel."""
    if preferred and port_is_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def mongo_url(port: int, host: str = HOST) -> str:
    """Connection URL of a local single-node database."""
    return f"mongodb://{host}:{port}/?directConnection=true"


def redis_url(port: int, host: str = HOST) -> str:
    """Connection URL of a local Redis (database 0)."""
    return f"redis://{host}:{port}/0"


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for printing)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


# --------------------------------------------------------------------------- pings


def kind_of(url: str) -> Kind:
    """``"mongo"`` or ``"redis"``, from the URL scheme."""
    scheme = urlsplit(url).scheme
    if scheme in ("mongodb", "mongodb+srv"):
        return "mongo"
    if scheme in ("redis", "rediss", "unix"):
        return "redis"
    raise ValueError(f"not a MongoDB or Redis URL: {redact(url)}")


def _mongo_command(url: str, command: str, timeout: float) -> dict[str, object] | None:
    """Run an admin command; None when the server does not answer."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    ms = max(int(timeout * 1000), 1)
    client: MongoClient[dict[str, object]] = MongoClient(
        url, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms
    )
    try:
        return dict(client.admin.command(command))
    except PyMongoError:
        return None
    finally:
        client.close()


def _redis_info(url: str, timeout: float) -> dict[str, object] | None:
    """``INFO server``; None when the server does not answer."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return dict(client.info("server"))
    except (redis.RedisError, OSError):
        return None
    finally:
        client.close()


def ping_mongo(url: str, timeout: float = 1.0) -> bool:
    """True when the database at ``url`` answers ``ping``."""
    return _mongo_command(url, "ping", timeout) is not None


def ping_redis(url: str, timeout: float = 1.0) -> bool:
    """True when the Redis at ``url`` answers."""
    return _redis_info(url, timeout) is not None


def server_pid(url: str, timeout: float = 1.0) -> int | None:
    """The pid the server at ``url`` reports about itself, or None if it does not answer."""
    if kind_of(url) == "mongo":
        reply = _mongo_command(url, "serverStatus", timeout)
        pid = reply.get("pid") if reply else None
    else:
        info = _redis_info(url, timeout)
        pid = info.get("process_id") if info else None
    return pid if isinstance(pid, int) else None


def ping(url: str, timeout: float = 1.0, expect_pid: int | None = None) -> bool:
    """Ping a MongoDB or Redis URL, whichever the scheme says.

    With ``expect_pid``, also check that the server answering is that process (so a foreign
    server on the same port is never mistaken for ours).
    """
    if expect_pid is not None:
        return server_pid(url, timeout) == expect_pid
    if kind_of(url) == "mongo":
        return ping_mongo(url, timeout)
    return ping_redis(url, timeout)


# --------------------------------------------------------------------------- processes


def pid_alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def pid_cmdline(pid: int) -> str:
    """The command line of ``pid``, or ``""`` when it cannot be read."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        pass
    try:
        out = subprocess.run(
            ["ps", "-p", str(pid), "-o", "command="],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def stop_pid(
    pid: int, timeout: float = STOP_TIMEOUT, popen: subprocess.Popen[bytes] | None = None
) -> None:
    """SIGTERM ``pid`` (its whole process group if it leads one), SIGKILL after ``timeout``."""

    def gone() -> bool:
        if popen is not None:
            return popen.poll() is not None
        return not pid_alive(pid)

    def send(sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(pid) == pid:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)

    if gone():
        return
    send(signal.SIGTERM)
    for sig_timeout, next_sig in ((timeout, signal.SIGKILL), (5.0, None)):
        deadline = time.monotonic() + sig_timeout
        while time.monotonic() < deadline:
            if gone():
                return
            time.sleep(0.05)
        if next_sig is None:
            raise ServiceError(f"process {pid} survived SIGKILL")
        send(next_sig)


def set_parent_death_signal() -> None:
    """Child-side hook: get SIGTERM when the spawning thread exits (Linux only)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))


def popen_logged(
    cmd: Sequence[str],
    log_path: Path,
    cwd: Path,
    die_with_parent: bool,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in its own session with stdout and stderr appended to ``log_path``.

    ``env`` replaces the inherited environment when given.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"--- {stamp} starting: {shlex.join(cmd)}\n".encode())
        log.flush()
        preexec: Callable[[], None] | None = None
        if die_with_parent and sys.platform == "linux":
            preexec = set_parent_death_signal
        return subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=None if env is None else dict(env),
            start_new_session=True,
            preexec_fn=preexec,  # only prctl(): safe enough after fork
        )


def log_tail(log_path: Path | None, lines: int = 30) -> str:
    """The last ``lines`` lines of a log file (``""`` if there is none)."""
    if log_path is None or not log_path.exists():
        return ""
    with log_path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        fh.seek(max(fh.tell() - 64 * 1024, 0))
        text = fh.read().decode(errors="replace")
    all_lines = text.splitlines()
    starts = [i for i, line in enumerate(all_lines) if line.startswith("--- ")]
    if starts:  # only the latest run
        all_lines = all_lines[starts[-1] :]
    return "\n".join(all_lines[-lines:])
