"""Typed API errors carrying the HTTP status and the real wire shape of the body.

* 400/401/403/404/409 (and injected 429/5xx): JSON `{"error": "<message>"}`.
* 422 for a body of the wrong shape: plain text, as axum's `Json` extractor words it:
  `Failed to deserialize the JSON body into the target type: <path>: <reason>`.
* 400 for a body that is not JSON: plain text `Failed to parse the request body as JSON: <reason>`.
"""

from __future__ import annotations

import json


class ApiError(Exception):
    """An error answer of the emulated API."""

    status = 500
    plain_text = False

    def __init__(self, message: str, status: int | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.headers = dict(headers or {})

    def body(self) -> tuple[bytes, str]:
        """The response body and its content type."""
        if self.plain_text:
            return self.message.encode(), "text/plain; charset=utf-8"
        return json.dumps({"error": self.message}, separators=(",", ":")).encode(), "application/json"


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class RequestTimeout(ApiError):
    """A request body that did not arrive in full in time (408); the connection is closed after the answer, since
    the rest of the body may still come."""

    status = 408

    def __init__(self, message: str):
        super().__init__(message, headers={"Connection": "close"})


class ShapeError(ApiError):
    """A JSON body whose shape does not match the target type (422, plain text)."""

    status = 422
    plain_text = True

    def __init__(self, path: str, reason: str):
        where = f"{path}: " if path else ""
        super().__init__(f"Failed to deserialize the JSON body into the target type: {where}{reason}")


class JsonSyntaxError(ApiError):
    """A body that is not JSON at all (400, plain text)."""

    status = 400
    plain_text = True

    def __init__(self, reason: str):
        super().__init__(f"Failed to parse the request body as JSON: {reason}")


class QueryError(ApiError):
    """A query string of the wrong shape (400, plain text, as axum's `Query` extractor words it)."""

    status = 400
    plain_text = True

    def __init__(self, reason: str):
        super().__init__(f"Failed to deserialize query string: {reason}")


class InvalidState(BadRequest):
    """An action the endpoint's current state refuses (moto's ConflictException, but the API answers 400)."""

    def __init__(self, action: str, endpoint_id: str, state: str, valid: frozenset[str], hint: str = ""):
        valid_list = ", ".join(sorted(valid))
        msg = f"Cannot {action} endpoint {endpoint_id} in state {state} (valid states: {valid_list})"
        super().__init__(f"{msg}. {hint}" if hint else msg)
