"""One error tree; the HTTP status lives on the class.

    VigilError (500, retry)
    ├── BadRequest 400 ── ValidationFailed 400
    ├── Unauthorized 401
    ├── Forbidden 403
    ├── NotFound 404
    ├── TooLarge 413
    ├── RateLimited 429
    └── StoreUnavailable 503 (retry)

The api's single presenter (`api/errors.py`) turns any of them into
`{"error": {"type", "message", "details"}}` plus `x-should-retry`.
"""

from __future__ import annotations

from typing import Any


class VigilError(Exception):
    status = 500
    type = "server_error"
    should_retry = True

    def __init__(self, message: str | None = None, details: list[dict[str, Any]] | None = None) -> None:
        self.message = message or (self.__doc__ or self.type).strip()
        self.details = details or []
        super().__init__(self.message)


class BadRequest(VigilError):
    """The request is malformed; fix it before sending it again."""

    status = 400
    type = "invalid_request"
    should_retry = False


class Unauthorized(VigilError):
    """Send a valid API key as `Authorization: Bearer sk_…`."""

    status = 401
    type = "unauthorized"
    should_retry = False


class Forbidden(VigilError):
    """This API key lacks the scope this call needs."""

    status = 403
    type = "forbidden"
    should_retry = False


class NotFound(VigilError):
    """No such resource for this team."""

    status = 404
    type = "not_found"
    should_retry = False


class TooLarge(VigilError):
    """The body or the answer is larger than allowed."""

    status = 413
    type = "too_large"
    should_retry = False


class RateLimited(VigilError):
    """Too many requests; wait for Retry-After."""

    status = 429
    type = "rate_limited"
    should_retry = True


class StoreUnavailable(VigilError):
    """The database is unreachable; try again shortly."""

    status = 503
    type = "store_unavailable"
    should_retry = True
