"""Request ids and security headers in one middleware pass (issue 18)."""

from __future__ import annotations

import pytest

from server.middleware import RequestIdMiddleware, RequestIds
from server.security_headers import API_CSP, DOCS_CSP, SecurityHeaders

pytestmark = pytest.mark.unit


def test_new_request_ids_are_unique_within_and_across_instances():
    """Ids became a random prefix plus a counter (cheaper than uuid4): two processes (two
    instances) must never collide, and one must never repeat."""
    a, b = RequestIds(), RequestIds()
    ids = [a.new() for _ in range(2000)] + [b.new() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and all(c in "0123456789abcdef" for c in i) for i in ids)


def test_incoming_id_kept_only_when_sane():
    ids = RequestIds()
    assert ids.for_scope({"headers": [(b"x-request-id", b"abc-1")]}) == "abc-1"
    made = ids.for_scope({"headers": [(b"x-request-id", b"bad id")]})
    assert made != "bad id" and len(made) == 32


async def _run(path: str, handler_headers: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    sent: list[dict] = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": handler_headers})
        await send({"type": "http.response.body", "body": b""})

    async def send(message):
        sent.append(message)

    mw = RequestIdMiddleware(app, SecurityHeaders(hsts_max_age=60))
    await mw({"type": "http", "path": path, "headers": []}, None, send)  # type: ignore[arg-type]
    return dict(sent[0]["headers"])


async def test_one_pass_adds_request_id_and_security_headers_keeping_the_handlers():
    """The security headers moved from their own middleware into the request-id one: every
    header must still be there, and a header the handler set must win."""
    headers = await _run("/api/v1/auth/me", [(b"x-frame-options", b"SAMEORIGIN")])
    assert len(headers[b"x-request-id"]) == 32
    assert headers[b"content-security-policy"] == API_CSP.encode()
    assert headers[b"cache-control"] == b"no-store"
    assert headers[b"strict-transport-security"].startswith(b"max-age=60")
    assert headers[b"x-frame-options"] == b"SAMEORIGIN"
    assert headers[b"x-content-type-options"] == b"nosniff"
    docs = await _run("/schema/swagger", [])
    assert docs[b"content-security-policy"] == DOCS_CSP.encode()
    assert b"cache-control" not in docs


def test_dependencies_resolved_one_at_a_time_in_dependency_order():
    """Litestar ran a batch of independent dependencies in a task group per request; the app
    now splits every batch (no task per dependency). Order must still put a dependency
    before anything that depends on it, and every dependency must still be resolved."""
    from litestar import Litestar, get
    from litestar.di import Provide
    from litestar.routes import HTTPRoute
    from litestar.testing import TestClient

    from server.sequential_di import resolve_dependencies_sequentially

    async def base() -> int:
        return 1

    async def left(base: int) -> int:
        return base + 10

    async def right(base: int) -> int:
        return base + 100

    @get("/x", dependencies={"base": Provide(base), "left": Provide(left), "right": Provide(right)})
    async def handler(left: int, right: int) -> dict[str, int]:
        return {"sum": left + right}

    app = Litestar([handler])
    assert resolve_dependencies_sequentially(app) == 1
    (route,) = [r for r in app.routes if isinstance(r, HTTPRoute) and r.path == "/x"]
    _, model = route.route_handler_map["GET"]
    keys = [next(iter(batch)).key for batch in model.dependency_batches]
    assert all(len(batch) == 1 for batch in model.dependency_batches)
    assert keys[0] == "base" and sorted(keys[1:]) == ["left", "right"]
    with TestClient(app) as client:
        assert client.get("/x").json() == {"sum": 112}


def test_metrics_take_the_status_from_the_outer_wrapper_or_their_own():
    """The metrics middleware dropped its own send wrapper (issue 18, third round) and
    reads the status the request-id middleware records; without that middleware outside
    it must still wrap `send` itself, and a handler's error status must be counted as such."""
    from litestar import Litestar, get
    from litestar.exceptions import NotAuthorizedException
    from litestar.testing import TestClient

    from server.metrics import RequestMetricsMiddleware, _children

    @get("/unit-metrics/ok", status_code=201, sync_to_thread=False)
    def ok() -> str:
        return "ok"

    @get("/unit-metrics/refused", sync_to_thread=False)
    def refused() -> str:
        raise NotAuthorizedException()

    wrappers: list[str] = []

    class Spied(RequestMetricsMiddleware):
        """Records which `send` the metrics middleware hands inwards."""

        def __init__(self, app):
            async def inner(scope, receive, send):
                wrappers.append(send.__name__)
                await app(scope, receive, send)

            super().__init__(inner)

    for outer in (True, False):
        _children.clear()
        wrappers.clear()
        app = Litestar(route_handlers=[ok, refused], middleware=[Spied])
        if outer:
            app.asgi_handler = RequestIdMiddleware(app.asgi_handler)
        with TestClient(app) as client:
            assert client.get("/unit-metrics/ok").status_code == 201
            assert client.get("/unit-metrics/refused").status_code == 401
        assert set(_children) == {
            ("GET", "/unit-metrics/ok", 201),
            ("GET", "/unit-metrics/refused", 401),
        }, outer
        own_wrapper = [name == "send_with_status" for name in wrappers]
        assert own_wrapper == [not outer, not outer], wrappers
