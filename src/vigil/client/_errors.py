"""The client's exceptions, one tree, shaped like the official SafetyKit SDK's:

    VigilError
    ├── APIError                         (message, request, body)
    │   ├── APIResponseValidationError   a 2xx answer that is not the JSON object expected
    │   ├── APIConnectionError           no answer: refused, reset, DNS …   (retried)
    │   │   └── APITimeoutError          no answer in time                  (retried)
    │   └── APIStatusError               an error answer                    (response, status_code)
    │       ├── BadRequestError              400
    │       ├── AuthenticationError          401
    │       ├── PermissionDeniedError        403
    │       ├── NotFoundError                404
    │       ├── ConflictError                409
    │       ├── PayloadTooLargeError         413  [Vigil: SafetyKit raises plain APIStatusError]
    │       ├── UnprocessableEntityError     422
    │       ├── RateLimitError               429
    │       └── InternalServerError          >= 500
    ├── WaitTimeoutError                 `wait()` gave up before the request was terminal
    ├── ResultsNotReadyError             results asked for before the request succeeded
    └── WebhookVerificationError         a webhook delivery that is not genuine (or too old)

An `APIStatusError` carries the server's `{"error": {"type", "message", "details"}}`: its
message is the server's message, and `type`, `details` and `x_request_id` are attributes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from vigil.client.types.data import DownloadURL, RequestStatus

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResultsNotReadyError",
    "UnprocessableEntityError",
    "VigilError",
    "WaitTimeoutError",
    "WebhookVerificationError",
]


class VigilError(Exception):
    """The base of every error this client raises."""


class APIError(VigilError):
    def __init__(self, message: str, request: httpx.Request, *, body: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.body = body


class APIResponseValidationError(APIError):
    def __init__(self, message: str, response: httpx.Response, *, body: object | None = None) -> None:
        super().__init__(message, response.request, body=body)
        self.response = response
        self.status_code = response.status_code


class APIConnectionError(APIError):
    def __init__(self, request: httpx.Request, message: str = "Connection error.") -> None:
        super().__init__(message, request)


class APITimeoutError(APIConnectionError):
    def __init__(self, request: httpx.Request, message: str = "Request timed out.") -> None:
        super().__init__(request, message)


class APIStatusError(APIError):
    """An error answer. `str(error)` is the server's message with the status in front."""

    def __init__(self, message: str, response: httpx.Response, *, body: object | None = None) -> None:
        super().__init__(message, response.request, body=body)
        self.response = response
        self.status_code = response.status_code
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        self.type: str | None = error.get("type")
        self.details: list[Any] = error.get("details") or []
        self.x_request_id: str | None = response.headers.get("x-request-id")

    def __str__(self) -> str:
        return f"{self.status_code} {self.type or 'error'}: {self.message}"


class BadRequestError(APIStatusError):
    pass


class AuthenticationError(APIStatusError):
    pass


class PermissionDeniedError(APIStatusError):
    pass


class NotFoundError(APIStatusError):
    pass


class ConflictError(APIStatusError):
    pass


class PayloadTooLargeError(APIStatusError):
    pass


class UnprocessableEntityError(APIStatusError):
    pass


class RateLimitError(APIStatusError):
    pass


class InternalServerError(APIStatusError):
    pass


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error(response: httpx.Response, body: object) -> APIStatusError:
    """The exception for an error answer, by its status code, with the server's message."""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str) or not message:
        message = response.reason_phrase or f"HTTP {response.status_code}"
    if response.status_code >= 500:
        return InternalServerError(message, response, body=body)
    return _BY_STATUS.get(response.status_code, APIStatusError)(message, response, body=body)


class WaitTimeoutError(VigilError):
    """`wait()` gave up; `last_status` is the last answer it saw (not terminal)."""

    def __init__(self, request_id: str, timeout_s: float, last_status: RequestStatus) -> None:
        super().__init__(
            f"request {request_id!r} is still {last_status.status!r} after {timeout_s:g}s; "
            "call wait() again with a longer timeout, or poll get_status()"
        )
        self.request_id = request_id
        self.last_status = last_status


class ResultsNotReadyError(VigilError):
    """The results file exists once a request has succeeded; `status` is its answer so far."""

    def __init__(self, status: DownloadURL) -> None:
        hint = "call wait() first" if status.status != "failed" else f"it failed: {status.error_summary}"
        super().__init__(f"request {status.request_id!r} is {status.status!r}, so it has no results yet; {hint}")
        self.status = status


class WebhookVerificationError(VigilError):
    """The delivery is not genuine: a header is missing, the signature does not match, or the
    timestamp is outside the tolerance. Answer such a request with a 4xx and ignore it."""
