"""The real error body in the OpenAPI document, and each operation's error responses.

Litestar documents every operation with one 400 of its own `{status_code, detail, extra}`; the
api answers every failure with `{"error": {code, message, details, requestId}}`. This module
replaces those with the real body and, per operation, one response per status the operation
can answer, listing its codes (`x-error-codes`, the description, one example per code).
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

ERROR_REF = "#/components/schemas/ErrorResponse"

ERROR_SCHEMAS: dict[str, Any] = {
    "ErrorDetail": {
        "title": "ErrorDetail",
        "type": "object",
        "description": "One item of `details`, always `{field, code, message}`: `field` names "
        "the request field (null when the item is about none), `code` is the item's code (the "
        "error's unless more precise), `message` is for people. Context members may follow "
        "(e.g. `source` on validation, `retryAfter` on 429, `scope` on INSUFFICIENT_SCOPE).",
        "required": ["field", "code", "message"],
        "properties": {
            "field": {
                "type": ["string", "null"],
                "description": "The request field (camelCase), or null.",
            },
            "code": {"type": "string", "description": "UPPER_SNAKE, like the error's code."},
            "source": {
                "type": "string",
                "enum": ["body", "query", "path", "header", "cookie"],
                "description": "Where the field was.",
            },
            "message": {"type": "string"},
            "retryAfter": {"type": "integer", "description": "Seconds to wait (429)."},
            "scope": {"type": "string", "description": "The missing API-token scope."},
        },
        "additionalProperties": True,
    },
    "ErrorInfo": {
        "title": "ErrorInfo",
        "type": "object",
        "required": ["code", "message", "details", "requestId"],
        "properties": {
            "code": {
                "type": "string",
                "description": "Stable, machine-readable name (UPPER_SNAKE); branch on this.",
                "examples": ["INSUFFICIENT_FUNDS"],
            },
            "message": {"type": "string", "description": "For people; may change."},
            "details": {"type": "array", "items": {"$ref": "#/components/schemas/ErrorDetail"}},
            "requestId": {
                "type": "string",
                "description": "Also in the `X-Request-ID` header; quote it in bug reports.",
            },
        },
    },
    "ErrorResponse": {
        "title": "ErrorResponse",
        "type": "object",
        "description": "The one error shape of every failure.",
        "required": ["error"],
        "properties": {"error": {"$ref": "#/components/schemas/ErrorInfo"}},
    },
}

_RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer"},
}
_REQUEST_ID = {
    "description": "The request id (also `error.requestId`).",
    "schema": {"type": "string"},
}


def _example(code: str, status: int) -> dict[str, Any]:
    details: list[dict[str, Any]] = []
    if status == 422 and code == "VALIDATION_ERROR":
        details = [{"field": "amount", "code": code, "message": "Expected `int`", "source": "body"}]
    if status == 429:
        details = [{"field": None, "code": code, "message": "Too many requests.", "retryAfter": 30}]
    return {
        "error": {
            "code": code,
            "message": HTTPStatus(status).phrase + ".",
            "details": details,
            "requestId": "9f1c2e4b7a3d4c1e",
        }
    }


def error_responses(codes: Mapping[int, frozenset[str] | set[str]]) -> dict[str, Any]:
    """OpenAPI `responses` entries, one per status, each with its codes and examples."""
    out: dict[str, Any] = {}
    for status in sorted(codes):
        names = sorted(codes[status])
        if not names:
            continue
        headers: dict[str, Any] = {"X-Request-ID": _REQUEST_ID}
        if status in (429, 503):
            headers["Retry-After"] = _RETRY_AFTER
        out[str(status)] = {
            "description": f"{HTTPStatus(status).phrase}: " + ", ".join(f"`{c}`" for c in names),
            "headers": headers,
            "x-error-codes": names,
            "content": {
                "application/json": {
                    "schema": {"$ref": ERROR_REF},
                    "examples": {c: {"value": _example(c, status)} for c in names},
                }
            },
        }
    return out
