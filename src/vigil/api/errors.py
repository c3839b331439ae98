"""The one presenter: any error becomes {"error": {"type", "message", "details"}}.

`x-should-retry` tells the official SDK (which retries 408/409/429/5xx by default) whether a
retry can help; errors a retry cannot fix say `false`.
"""

from __future__ import annotations

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from vigil.api.responses import json_response
from vigil.errors import RateLimited, VigilError

log = structlog.get_logger("vigil.api")

_HTTP_TYPES = {404: "not_found", 405: "method_not_allowed"}


def _present(
    status: int, type_: str, message: str, details: list, retry: bool, headers: dict | None = None
) -> Response:
    all_headers = {"x-should-retry": "true" if retry else "false", **(headers or {})}
    return json_response({"error": {"type": type_, "message": message, "details": details}}, status, all_headers)


async def vigil_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, VigilError)
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


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("http.unexpected_error", path=request.url.path)
    return _present(500, "server_error", "an unexpected error occurred; it has been logged", [], True)
