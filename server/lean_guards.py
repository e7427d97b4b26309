"""Run read-only route guards on the route handler itself instead of a copy of it.

Why: Litestar's `authorize_connection` passes every guard `copy(handler)` on every request,
so a guard cannot change the shared handler; a shallow copy of a route handler (dozens of
slots) cost ~9 µs, the largest single frame of our own on `GET /auth/me` after the access
log was batched (issue 18, third round). Guards listed as read-only (ours only read `opt`
and the handler's name) get the handler itself; a handler with any other guard keeps
Litestar's copying. The class swap keeps the handler's layout (`__slots__ = ()`), so the
handler object, its state and every `isinstance` check stay as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute

_LEAN: dict[type[HTTPRouteHandler], type[HTTPRouteHandler]] = {}


async def _authorize_without_copy(
    self: HTTPRouteHandler, connection: ASGIConnection[Any, Any, Any, Any]
) -> None:
    for guard in self.resolve_guards():
        await guard(connection, self)  # type: ignore[misc]  # async: resolve_guards wraps sync ones


def _lean_class(cls: type[HTTPRouteHandler]) -> type[HTTPRouteHandler]:
    lean = _LEAN.get(cls)
    if lean is None:
        namespace = {"__slots__": (), "authorize_connection": _authorize_without_copy}
        lean = _LEAN[cls] = type(f"Lean{cls.__name__}", (cls,), namespace)
    return lean


def guards_without_copies(app: Litestar, read_only: Collection[Callable[..., Any]]) -> int:
    """Swap in the copy-free guard call on every HTTP handler whose guards are all in
    `read_only`; the number of handlers changed."""
    changed = 0
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue  # WebSocket guards run once per connection
        for handler, _ in route.route_handler_map.values():
            guards = handler.resolve_guards()
            lean = type(handler) in _LEAN.values()  # already swapped (a shared handler)
            if guards and not lean and all(guard in read_only for guard in guards):
                handler.__class__ = _lean_class(type(handler))
                changed += 1
    return changed
