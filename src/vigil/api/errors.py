"""The one presenter: any error becomes {"error": {"type", "message", "details"}}.

`x-should-retry` tells the official SDK (which retries 408/409/429/5xx by default) whether a
retry can help; errors a retry cannot fix say `false`.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from vigil.api.responses import json_response
from vigil.errors import RateLimited, VigilError

_HTTP_TYPES = {404: "not_found", 405: "method_not_allowed"}


def _present(
    status: int, type_: str, message: str, details: list, retry: bool, headers: dict | None = None
) -> Response:
    all_headers = {"x-should-retry": "true" if retry else "false", **(headers or {})}
    return json_response({"error": {"type": type_, "message": message, "details": details}}, status, all_headers)


async def vigil_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, VigilError)
    return vigil_error_response(exc)


def vigil_error_response(exc: VigilError) -> Response:
    headers = {}
    if isinstance(exc, RateLimited):
        headers = {"Retry-After": "1", "retry-after-ms": "1000"}
    return _present(exc.status, exc.type, exc.message, exc.details, exc.should_retry, headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no route {request.method} {request.url.path}; see /docs for the API"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}; see /docs for the API"
    else:
        message = str(exc.detail)
    return _present(exc.status_code, _HTTP_TYPES.get(exc.status_code, "http_error"), message, [], False, exc.headers)


def unexpected_error() -> Response:
    """A bug. The request-context middleware logs it with the request id and sends this."""
    message = "an unexpected error occurred; it has been logged with this request's x-request-id"
    return _present(500, "server_error", message, [], True)


def nul_in_request(in_path: bool) -> Response:
    if in_path:
        return _present(
            404, "not_found", "no such resource: no name or id contains the NUL character (\\u0000)", [], False
        )
    return _present(400, "invalid_request", "a query parameter contains the NUL character (%00); remove it", [], False)
