"""Domain errors and the one JSON error shape every failure is answered with.

`{"error": {"code": "INSUFFICIENT_FUNDS", "message": "...", "details": [...], "requestId": "..."}}`
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    SerializationException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import (
    ClientException,
    MethodNotAllowedException,
    TooManyRequestsException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from server.core.request_context import current_request_id

log = logging.getLogger("server.core.errors")


class DomainError(Exception):
    """A failure a client can act on. Subclasses fix the HTTP status; `code` is the stable name."""

    status_code: int = 400
    code: str = "BAD_REQUEST"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = error_details(details, self.code, message)
        self.headers = headers or {}


class BadRequest(DomainError):
    status_code = 400
    code = "BAD_REQUEST"


class Unauthorized(DomainError):
    status_code = 401
    code = "UNAUTHORIZED"


class Forbidden(DomainError):
    status_code = 403
    code = "FORBIDDEN"


class NotFound(DomainError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(DomainError):
    status_code = 409
    code = "CONFLICT"


class Unprocessable(DomainError):
    status_code = 422
    code = "VALIDATION_ERROR"


class RateLimited(DomainError):
    status_code = 429
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        retry_after = max(1, int(retry_after))
        super().__init__(
            message,
            code=code,
            details=[{"retryAfter": retry_after}],
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"


_DETAIL_KEYS = ("field", "code", "message")


def error_details(details: list[Any] | None, code: str, message: str) -> list[dict[str, Any]]:
    """Every `details` item in one shape, `{field, code, message}` first: `field` is the
    request field (or null when the item is about no field), `code` the item's own or the
    error's, `message` the item's own or the error's. Context members (`retryAfter`,
    `scope`, `currentVersion`, `source`…) follow. Idempotent: stored answers pass again."""
    shaped: list[dict[str, Any]] = []
    for item in details or []:
        raw = item if isinstance(item, dict) else {"message": str(item)}
        field = raw.get("field")
        shaped.append(
            {
                "field": str(field) if field is not None else None,
                "code": str(raw.get("code") or code),
                "message": str(raw.get("message") or message),
                **{k: v for k, v in raw.items() if k not in _DETAIL_KEYS},
            }
        )
    return shaped


def error_body(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "details": error_details(details, code, message),
            "requestId": current_request_id(),
        }
    }


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    return Response(
        content=error_body(code, message, details),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def _validation_details(extra: Any) -> list[dict[str, Any]]:
    details: list[dict[str, Any]] = []
    for item in extra if isinstance(extra, list) else [extra] if extra else []:
        if isinstance(item, dict):
            details.append(
                {
                    "field": item.get("key") or item.get("field") or "body",
                    "source": item.get("source", "body"),
                    "message": str(item.get("message", "invalid value")),
                }
            )
        else:
            details.append({"field": "body", "message": str(item)})
    return details


def handle_domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[dict[str, Any]]:
    return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


_HTTP_CODES: dict[type[HTTPException], str] = {
    NotAuthorizedException: "UNAUTHORIZED",
    PermissionDeniedException: "FORBIDDEN",
    NotFoundException: "NOT_FOUND",
    MethodNotAllowedException: "METHOD_NOT_ALLOWED",
    TooManyRequestsException: "RATE_LIMITED",
}


def handle_http_exception(
    _: Request[Any, Any, Any], exc: HTTPException
) -> Response[dict[str, Any]]:
    if isinstance(exc, ValidationException):
        return error_response(
            422, "VALIDATION_ERROR", _validation_message(exc), _validation_details(exc.extra)
        )
    status = exc.status_code
    if type(exc) is ClientException and status == 400:
        # The framework could not decode the body (truncated or malformed JSON).
        return error_response(400, "MALFORMED_BODY", "The request body is not valid JSON.")
    code = _HTTP_CODES.get(type(exc))
    if code is None:
        code = HTTPStatus(status).name if status in HTTPStatus._value2member_map_ else "ERROR"
    if status == 413:
        code = "PAYLOAD_TOO_LARGE"
    message = exc.detail or HTTPStatus(status).phrase
    headers = dict(exc.headers or {})
    return error_response(status, code, message, None, headers)


def _validation_message(exc: ValidationException) -> str:
    detail = exc.detail or ""
    if detail.startswith("Validation failed for"):
        return "The request is not valid."
    return detail or "The request is not valid."


def handle_serialization_error(
    _: Request[Any, Any, Any], exc: SerializationException
) -> Response[dict[str, Any]]:
    return error_response(400, "MALFORMED_BODY", "The request body is not valid JSON.")


def handle_unicode_error(_: Request[Any, Any, Any], exc: UnicodeError) -> Response[dict[str, Any]]:
    return error_response(400, "MALFORMED_BODY", "The request is not valid UTF-8.")


def handle_recursion(_: Request[Any, Any, Any], exc: RecursionError) -> Response[dict[str, Any]]:
    """JSON nested past the decoder's depth cap (Python's recursion limit, about 1,000
    levels) was a 500 on every JSON route (issue 15, F8): it is the client's bad input."""
    if "deserializ" in str(exc) or "decod" in str(exc):
        return error_response(400, "BODY_TOO_DEEP", "The request body is nested too deeply.", None)
    return handle_unexpected(_, exc)


def handle_unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.exception("unhandled error", exc_info=exc)
    return error_response(
        HTTP_500_INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "Something went wrong on our side."
    )


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    DomainError: handle_domain_error,
    ClientException: handle_http_exception,
    HTTPException: handle_http_exception,
    SerializationException: handle_serialization_error,
    UnicodeError: handle_unicode_error,
    RecursionError: handle_recursion,
    Exception: handle_unexpected,
}


def valid_email(address: str, *, field: str = "email") -> str:
    """`checked_email` for managers: 422 `INVALID_EMAIL` naming the field (issue 15, F15)."""
    from server.core.text import checked_email

    try:
        return checked_email(address)
    except ValueError as exc:
        raise Unprocessable(
            f"The e-mail address is not valid: {exc}",
            code="INVALID_EMAIL",
            details=[{"field": field, "message": str(exc)}],
        ) from None


def valid_name(text: str, *, field: str = "name", low: int = 3, high: int = 50) -> str:
    """A display name in NFKC without control, bidi-override or zero-width characters and
    `low`..`high` characters long, else 422 (issue 15, F15)."""
    from server.core.text import clean_name

    try:
        name = clean_name(text)
    except ValueError as exc:
        raise Unprocessable(
            f"The {field} is not valid: {exc}",
            code="INVALID_NAME",
            details=[{"field": field, "message": str(exc)}],
        ) from None
    if not low <= len(name) <= high:
        raise Unprocessable(
            f"The {field} must be {low}-{high} characters.",
            details=[{"field": field, "message": f"{low}-{high} characters"}],
        )
    return name
