"""What the sync and async clients share: building requests, and reading answers and errors.

httpx's exceptions are translated here and nowhere else (`connection_error`, `_status_error`),
so callers only ever see the client's own tree (`_errors.py`).
"""

from __future__ import annotations

import json
import logging
from typing import Any, TypeVar

import httpx

from vigil.client._calls import Call
from vigil.client._config import USER_AGENT, Options
from vigil.client._errors import APIConnectionError, APIResponseValidationError, APITimeoutError, status_error
from vigil.client._models import Model

log = logging.getLogger("vigil.client")

M = TypeVar("M", bound=Model)
RETRY_COUNT_HEADER = "x-vigil-retry-count"


class BaseClient:
    def __init__(self, options: Options) -> None:
        self._options = options

    @property
    def base_url(self) -> str:
        return self._options.base_url

    @property
    def max_retries(self) -> int:
        return self._options.max_retries

    @property
    def timeout(self) -> httpx.Timeout:
        return self._options.timeout

    def _api_request(
        self, http: httpx.Client | httpx.AsyncClient, call: Call[Any], retries_taken: int
    ) -> httpx.Request:
        headers = {
            "Authorization": f"Bearer {self._options.api_key}",
            "Accept": "application/json",
            # Sent on bodiless POSTs too, as the official SDK does.
            "Content-Type": call.content_type,
            "User-Agent": USER_AGENT,
            RETRY_COUNT_HEADER: str(retries_taken),
            **self._options.default_headers,
        }
        if call.content is not None:
            body = call.content
        elif call.json is not None:
            body = json.dumps(call.json, ensure_ascii=False, separators=(",", ":")).encode()
        else:
            body = b""
        return http.build_request(
            call.method,
            self._options.base_url + call.path,
            params=call.params,
            headers=headers,
            content=body,
            timeout=self._options.timeout,
        )

    @staticmethod
    def _parse(response: httpx.Response, model: type[M]) -> M:
        try:
            body = response.json()
        except ValueError:
            raise APIResponseValidationError(
                f"expected a JSON object from {response.request.method} {response.request.url.path}, "
                f"got {response.headers.get('content-type', 'no content type')}: {response.text[:200]!r}",
                response,
            ) from None
        if not isinstance(body, dict):
            raise APIResponseValidationError(f"expected a JSON object, got {type(body).__name__}", response, body=body)
        return model(body)

    @staticmethod
    def _status_error(response: httpx.Response) -> Exception:
        """The error for an answer whose body has been read."""
        try:
            body: object = response.json()
        except ValueError:
            body = response.text or None
        return status_error(response, body)

    @staticmethod
    def _log_retry(request: httpx.Request, reason: str, delay_s: float, retries_taken: int, max_retries: int) -> None:
        log.info(
            "retrying %s %s in %.2fs (retry %d of %d): %s",
            request.method,
            request.url.path,
            delay_s,
            retries_taken + 1,
            max_retries,
            reason,
        )


def connection_error(request: httpx.Request, exc: httpx.RequestError) -> APIConnectionError:
    """httpx's "no answer" errors, translated: a timeout, or anything else (httpx's words kept)."""
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(request)
    return APIConnectionError(request, f"Connection error: {exc!r}")
