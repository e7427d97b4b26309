"""What the post-processor needs to know about each operation, read from the route handlers."""

from __future__ import annotations

from dataclasses import dataclass

from litestar import Litestar
from litestar.response import ServerSentEvent, Stream
from litestar.routes import HTTPRoute


@dataclass(frozen=True, slots=True)
class OperationInfo:
    module: str  # the handler's module: where its error codes are looked up
    name: str  # the handler function's name: the base of a clean operation id
    authenticated: bool  # takes the `actor` dependency: a bearer token is required
    has_path_params: bool
    streams: bool  # answers `text/event-stream` (SSE), not JSON


def operation_infos(app: Litestar) -> dict[tuple[str, str], OperationInfo]:
    """(path as in the document, lower-case method) -> what the handler declares."""
    out: dict[tuple[str, str], OperationInfo] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            fn = handler.fn
            params = handler.parsed_fn_signature.parameters
            info = OperationInfo(
                module=fn.__module__,
                name=fn.__name__,
                authenticated="actor" in params,
                has_path_params=bool(route.path_parameters),
                streams=handler.parsed_fn_signature.return_type.annotation
                in (Stream, ServerSentEvent),
            )
            for method in handler.http_methods:
                out[(route.path_format, method.lower())] = info
    return out
