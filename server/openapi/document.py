"""Post-processing of Litestar's OpenAPI document into the contract clients are generated from.

Litestar describes the handlers; it cannot know our error body, how we authenticate, which
header our money routes insist on or what our SSE routes send. `finalize` fixes each of those
on a copy of the generated document, from what the code declares (handler signatures, the
error classes, the idempotency header), so the document stays true as routes are added.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

from server.openapi.error_codes import codes_for_module, codes_in_file
from server.openapi.errors import ERROR_SCHEMAS, error_responses
from server.openapi.examples import REQUEST_EXAMPLES
from server.openapi.routes_info import OperationInfo

MONEY_HEADER = "idempotency-key"
IDEMPOTENCY_MODULE = "server/wallet/idempotency.py"  # where its errors are raised
SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The `accessToken` from `POST /api/v1/auth/login` (15 minutes; refresh "
        "with `POST /api/v1/auth/refresh`).",
    },
    "apiToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "sbp_…",
        "description": "A permanent API token (`sbp_…`), limited to its scopes.",
    },
    "sseTicket": {
        "type": "apiKey",
        "in": "query",
        "name": "ticket",
        "description": "A ticket from `POST /api/v1/realtime/ticket`, for `EventSource`, which "
        "cannot send headers.",
    },
}
API_DESCRIPTION = (
    "Second Brain's HTTP API. JSON in camelCase; every failure answers "
    '`{"error": {code, message, details, requestId}}` (each operation lists its codes). '
    "Money-moving POSTs need an `Idempotency-Key`. Real-time frames and events: "
    "`/schema/asyncapi.json`. The client guide: docs/api.md and docs/realtime.md."
)
_BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiToken": []}]
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def finalize(
    doc: Mapping[str, Any], infos: Mapping[tuple[str, str], OperationInfo]
) -> dict[str, Any]:
    """A corrected copy of Litestar's document (see the module docstring)."""
    out: dict[str, Any] = copy.deepcopy(dict(doc))
    _unique_schema_names(out)  # rebuilds `out`: read `components` after it
    components = out.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(copy.deepcopy(ERROR_SCHEMAS))
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    _fix_schemas(schemas)
    info = out.setdefault("info", {})
    info.setdefault("description", API_DESCRIPTION)
    info.setdefault("contact", {"name": "Second Brain maintainers"})
    used_ids: set[str] = set()
    tags: set[str] = set()
    for path, item in out.get("paths", {}).items():
        for method in _METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            if not operation.get("tags"):
                operation["tags"] = [path.strip("/").split("/")[0] or "api"]
            tags.update(operation["tags"])
            if not operation.get("description"):
                operation["description"] = operation.get("summary") or operation["tags"][0]
            _fix_operation(path, method, operation, infos.get((path, method)), used_ids)
    out["tags"] = [{"name": t, "description": f"The `{t}` operations."} for t in sorted(tags)]
    return out


def _unique_schema_names(doc: dict[str, Any]) -> None:
    """`auth_schemas_SessionView` -> `AuthSessionView`; every title = its component name.

    Litestar disambiguates same-named Structs of two modules with a module-path key but keeps
    the bare class name as the title, so generators that name models by title collide.
    """
    schemas: dict[str, Any] = doc.get("components", {}).get("schemas", {})
    renames: dict[str, str] = {}
    for key in list(schemas):
        if "_" not in key:
            continue
        parts = [p for p in key.split("_") if p and p != "schemas"]
        new = "".join(p[:1].upper() + p[1:] for p in parts)
        if new in schemas or new in renames.values():
            new = "".join(p[:1].upper() + p[1:] for p in key.split("_"))
        renames[key] = new
    if renames:
        text = json.dumps(doc)
        for old, new in renames.items():
            text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
        doc.clear()
        doc.update(json.loads(text))
        schemas = doc["components"]["schemas"]
        for old, new in renames.items():
            schemas[new] = schemas.pop(old)
    for key, schema in schemas.items():
        schema["title"] = key


def _fix_schemas(schemas: dict[str, Any]) -> None:
    for name, schema in schemas.items():
        props: dict[str, Any] = schema.get("properties", {})
        for prop_name, prop in list(props.items()):
            if prop == {}:
                # Accepted and ignored (e.g. `role` at registration): not part of the contract.
                del props[prop_name]
            elif prop_name == "amount" and _is_loose_number(prop):
                # The manager accepts only whole numbers (others answer INVALID_AMOUNT).
                props[prop_name] = {
                    "type": "integer",
                    "minimum": 1,
                    "description": prop.get("description", "A whole number of tokens"),
                }
        if name in REQUEST_EXAMPLES:
            schema["examples"] = [REQUEST_EXAMPLES[name]]


def _is_loose_number(prop: dict[str, Any]) -> bool:
    kinds = {o.get("type") for o in prop.get("oneOf", [])}
    return "integer" in kinds and len(kinds) > 1


def _camel(words: list[str]) -> str:
    parts = [p for w in words for p in re.split(r"[^A-Za-z0-9]+", w) if p]
    head, *rest = parts or ["operation"]
    return head.lower() + "".join(w[:1].upper() + w[1:] for w in rest)


def _operation_id(
    path: str, method: str, operation: dict[str, Any], info: OperationInfo | None, used: set[str]
) -> str:
    """`walletTransfer` rather than `ApiV1WalletTransfersTransfer`; unique in the document."""
    tag = (operation.get("tags") or ["api"])[0]
    name = info.name if info else method
    base = _camel([*re.split(r"[^A-Za-z0-9]+", tag), *re.split(r"_+", name)])
    candidate = base
    if candidate in used:
        segments = [
            s for s in path.split("/") if s and not s.startswith("{") and s not in {"api", "v1"}
        ]
        candidate = _camel([*segments, *re.split(r"_+", name)])
    n = 2
    while candidate in used:
        candidate = f"{base}{n}"
        n += 1
    used.add(candidate)
    return candidate


def _generic_codes(
    method: str, operation: dict[str, Any], info: OperationInfo | None
) -> dict[int, set[str]]:
    codes: dict[int, set[str]] = {503: {"SERVICE_UNAVAILABLE"}}
    if info is not None and info.authenticated:
        codes[401] = {
            "UNAUTHORIZED",
            "INVALID_TOKEN",
            "TOKEN_EXPIRED",
            "TOKEN_REVOKED",
            "SESSION_REVOKED",
        }
        codes[403] = {"FORBIDDEN", "INSUFFICIENT_SCOPE"}
    if info is not None and info.has_path_params:
        codes[404] = {"NOT_FOUND"}
    if operation.get("parameters") or "requestBody" in operation:
        codes[422] = {"VALIDATION_ERROR"}
    if "requestBody" in operation:
        codes[400] = {"MALFORMED_BODY"}
        codes[413] = {"PAYLOAD_TOO_LARGE"}
    return codes


def _fix_operation(
    path: str,
    method: str,
    operation: dict[str, Any],
    info: OperationInfo | None,
    used_ids: set[str],
) -> None:
    operation["operationId"] = _operation_id(path, method, operation, info, used_ids)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for key in [s for s in responses if s.startswith(("4", "5"))]:
        del responses[key]  # Litestar's `{status_code, detail, extra}` boilerplate
    codes = _generic_codes(method, operation, info)
    if info is not None:
        for code_status, found in codes_for_module(info.module).items():
            codes.setdefault(code_status, set()).update(found)
    for param in operation.get("parameters", []):
        if param.get("in") == "header" and param.get("name", "").lower() == MONEY_HEADER:
            param["required"] = True
            param["schema"] = {"type": "string", "minLength": 1, "maxLength": 255}
            param["example"] = "3f0c6c1e-8a47-4b1b-9d57-0f6a3c0f2b71"
            for key_status, key_codes in codes_in_file(IDEMPOTENCY_MODULE).items():
                codes.setdefault(key_status, set()).update(key_codes)
            ok = next((r for s, r in responses.items() if s.startswith("2")), None)
            if ok is not None:
                ok.setdefault("headers", {})["Idempotent-Replayed"] = {
                    "description": "`true` when this is the stored answer to an earlier "
                    "request with the same key.",
                    "schema": {"type": "string", "enum": ["true"]},
                }
    responses.update(error_responses(codes))
    authenticated = info is not None and info.authenticated
    operation["security"] = copy.deepcopy(_BEARER) if authenticated else []
    if info is not None and info.streams:
        _stream_response(path, operation)


def _stream_response(path: str, operation: dict[str, Any]) -> None:
    """SSE routes answer `text/event-stream`, not JSON."""
    if path == "/api/v1/events/stream":
        operation["security"] = [*copy.deepcopy(_BEARER), {"sseTicket": []}]
    for status, response in operation.get("responses", {}).items():
        if status.startswith("2"):
            response["content"] = {
                "text/event-stream": {
                    "schema": {
                        "type": "string",
                        "description": "Server-sent events (see the operation's description).",
                    }
                }
            }
