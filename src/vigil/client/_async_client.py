"""`AsyncVigil`: the asyncio client, the same surface as `Vigil` with `await`.

>>> async with AsyncVigil(api_key="sk_…") as client:
...     added = await client.data.add("products", data={"id": "p1"})
...     status = await client.data.wait(added.request_id, namespace="products")
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TypeVar

import httpx

from vigil.client._base import BaseClient, connection_error
from vigil.client._calls import Call
from vigil.client._config import DEFAULT_LIMITS, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, NOT_GIVEN, NotGiven, Options
from vigil.client._errors import VigilError
from vigil.client._models import Model
from vigil.client._resources.data import AsyncData
from vigil.client._resources.lists import AsyncLists
from vigil.client._resources.policies import AsyncPolicies
from vigil.client._resources.webhooks import AsyncWebhooks
from vigil.client._retry import retry_delay_s, should_retry

__all__ = ["AsyncVigil"]

M = TypeVar("M", bound=Model)


class AsyncVigil(BaseClient):
    """The asyncio twin of `Vigil`: the same parameters (`http_client` is an `httpx.AsyncClient`)."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | httpx.URL | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        options = Options.resolve(api_key, base_url, timeout, max_retries, default_headers)
        owned = http_client is None
        http = http_client or httpx.AsyncClient(limits=DEFAULT_LIMITS, follow_redirects=True)
        self._setup(options, http, owned)

    def _setup(self, options: Options, http: httpx.AsyncClient, owned: bool) -> None:
        super().__init__(options)
        self._http = http
        self._owns_http = owned
        self.data = AsyncData(self)
        self.policies = AsyncPolicies(self)
        self.lists = AsyncLists(self)
        self.webhooks = AsyncWebhooks(self)

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | None | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
    ) -> AsyncVigil:
        """A client with some options changed, sharing this one's connections."""
        copy = object.__new__(AsyncVigil)
        options = self._options.copy(timeout=timeout, max_retries=max_retries, default_headers=default_headers)
        copy._setup(options, self._http, owned=False)
        return copy

    # --- sending ------------------------------------------------------------------------

    async def _call(self, call: Call[M]) -> M:
        response = await self._send(lambda taken: self._api_request(self._http, call, taken))
        return self._parse(response, call.model)

    async def _send(
        self, build: Callable[[int], httpx.Request], *, stream: bool = False, max_retries: int | None = None
    ) -> httpx.Response:
        """As `Vigil._send`, with `await`."""
        if self._http.is_closed:
            raise VigilError("this client has been closed; create a new AsyncVigil() to send more requests")
        allowed = self._options.max_retries if max_retries is None else max_retries
        taken = 0
        while True:
            request = build(taken)
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.RequestError as exc:
                if taken < allowed and isinstance(exc, httpx.TransportError):
                    delay = retry_delay_s(taken)
                    self._log_retry(request, repr(exc), delay, taken, allowed)
                    await asyncio.sleep(delay)
                    taken += 1
                    continue
                raise connection_error(request, exc) from exc
            if response.is_success:
                return response
            if taken < allowed and should_retry(response):
                delay = retry_delay_s(taken, response.headers)
                await response.aclose()
                self._log_retry(request, f"HTTP {response.status_code}", delay, taken, allowed)
                await asyncio.sleep(delay)
                taken += 1
                continue
            try:
                await response.aread()
            finally:
                await response.aclose()
            raise self._status_error(response)

    # --- closing ------------------------------------------------------------------------

    async def close(self) -> None:
        """Close the connections (unless the `http_client` was yours)."""
        if self._owns_http:
            await self._http.aclose()

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    async def __aenter__(self) -> AsyncVigil:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncVigil(base_url={self.base_url!r}, max_retries={self.max_retries})"
