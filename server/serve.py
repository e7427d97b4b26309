"""The one way to run the api: `python -m server.serve [--host H] [--port P]`.

Used by `make run` (scripts/run_dev.py), the Docker image, docker-compose.yml and the tests'
scripts/api_process.py, so every api process is configured the same way:

- uvicorn's proxy handling is off (`proxy_headers=False`, no forwarded IPs): otherwise it
  trusts `X-Forwarded-For` from 127.0.0.1 and rewrites the client address before the app
  sees it (issue 15, F4). `TRUSTED_PROXIES` (auth/client_ip.py) is the only authority.
- the WebSocket message limit (the larger of `WS_MAX_FRAME_BYTES` and
  `COLLAB_MAX_MESSAGE_BYTES`) is enforced by uvicorn before it buffers a frame (its default
  is 16 MiB per frame), not only by the endpoints after buffering.
- WebSockets run on `realtime.ws_protocol.LeanWebSocketProtocol`: uvicorn's sans-I/O protocol
  with a lighter inbox and writable flag, the handshake's request and response released
  after the accept (less memory per idle socket; nothing changes for clients).
- per-message deflate follows `WS_PER_MESSAGE_DEFLATE` (default off: a compression context
  per socket costs memory; clients lose compression).
- the published development `SECRET_KEY` is refused when the api listens beyond loopback
  (issue 15, F6): anyone can sign tokens with it.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Sequence
from typing import Any

import uvicorn

from server.settings import DEFAULT_SECRET_KEY, Settings

APP = "server.app:create_app"
WS_PROTOCOL = "realtime.ws_protocol:LeanWebSocketProtocol"


def is_loopback(host: str) -> bool:
    """True when `host` accepts connections from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_secret(settings: Settings, host: str) -> None:
    """Refuse the published default signing key on a non-loopback listener."""
    if settings.secret_key == DEFAULT_SECRET_KEY and not is_loopback(host):
        raise SystemExit(
            f"refusing to listen on {host} with the published development SECRET_KEY: "
            "set SECRET_KEY (make run keeps a random one in .data/secret_key)"
        )


def uvicorn_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """The uvicorn configuration every api process uses."""
    return {
        "factory": True,
        "host": host,
        "port": port,
        "access_log": False,  # the app logs requests itself, without query strings
        "proxy_headers": False,  # F4: TRUSTED_PROXIES decides, inside the app
        "forwarded_allow_ips": [],
        "server_header": False,
        "ws": WS_PROTOCOL,  # uvicorn's websockets-sansio, lighter per idle socket
        # The largest message any socket accepts (the event gateway or a note's live room).
        "ws_max_size": max(settings.ws_max_frame_bytes, settings.collab_max_message_bytes),
        "ws_per_message_deflate": settings.ws_per_message_deflate,
        "log_level": settings.log_level.lower(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the bind address, check the settings, run uvicorn in the foreground."""
    parser = argparse.ArgumentParser(prog="python -m server.serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (8000)")
    parser.add_argument("--app", default=APP, help="app factory, module:callable")
    parser.add_argument("--log-level", default=None, help="uvicorn log level")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (1)")
    args = parser.parse_args(argv)
    settings = Settings()
    check_secret(settings, args.host)
    options = uvicorn_options(settings, args.host, args.port)
    if args.log_level:
        options["log_level"] = args.log_level.lower()
    uvicorn.run(args.app, workers=args.workers, **options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
