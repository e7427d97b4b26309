"""Resolve every handler's dependencies one after another instead of in a task group.

Why: Litestar resolves the independent dependencies of one "batch" concurrently, starting an
anyio task group with a task per dependency on every request (`GET /auth/me`: `actor` and
`auth_manager`, two tasks for two answers that do not wait on each other long). Our
providers are cheap or do one round trip each, so the tasks cost more than the overlap
gains. The batches are computed once at start-up; splitting them into batches of one keeps
their order (dependencies before dependents) and makes Litestar await each in turn.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.routes import HTTPRoute


def resolve_dependencies_sequentially(app: Litestar) -> int:
    """Split every handler's dependency batches into single ones; the number of handlers changed."""
    changed = 0
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue  # a WebSocket resolves its dependencies once per connection, not per frame
        for _, model in route.route_handler_map.values():
            batches = model.dependency_batches
            if any(len(batch) > 1 for batch in batches):
                model.dependency_batches = [{dep} for batch in batches for dep in batch]
                changed += 1
    return changed
