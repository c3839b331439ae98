"""`Vigil`: the synchronous client.

>>> from vigil.client import Vigil
>>> with Vigil(api_key="sk_…", base_url="http://127.0.0.1:8000") as client:
...     added = client.data.add("products", data={"id": "p1", "title": "Mug"})
...     status = client.data.wait(added.request_id, namespace="products")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TypeVar

import httpx

from vigil.client._base import BaseClient, connection_error
from vigil.client._calls import Call
from vigil.client._config import DEFAULT_LIMITS, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, NOT_GIVEN, NotGiven, Options
from vigil.client._errors import VigilError
from vigil.client._models import Model
from vigil.client._resources.data import Data
from vigil.client._resources.lists import Lists
from vigil.client._resources.policies import Policies
from vigil.client._resources.webhooks import Webhooks
from vigil.client._retry import retry_delay_s, should_retry

__all__ = ["Vigil"]

M = TypeVar("M", bound=Model)


class Vigil(BaseClient):
    """A client for one Vigil server and API key.

    **Parameters** (all keyword-only):
    - `api_key`: `sk_…`; default `$VIGIL_API_KEY`.
    - `base_url`: default `$VIGIL_BASE_URL`, else `http://127.0.0.1:8000`.
    - `timeout`: seconds, or an `httpx.Timeout`; default 60 s (5 s to connect).
    - `max_retries`: retries after the first attempt (default 2), with backoff; see docs/client.md.
    - `default_headers`: extra headers on every API call.
    - `http_client`: an `httpx.Client` of your own (proxies, certificates); not closed by `close()`.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | httpx.URL | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        options = Options.resolve(api_key, base_url, timeout, max_retries, default_headers)
        owned = http_client is None
        http = http_client or httpx.Client(limits=DEFAULT_LIMITS, follow_redirects=True)
        self._setup(options, http, owned)

    def _setup(self, options: Options, http: httpx.Client, owned: bool) -> None:
        super().__init__(options)
        self._http = http
        self._owns_http = owned
        self.data = Data(self)
        self.policies = Policies(self)
        self.lists = Lists(self)
        self.webhooks = Webhooks(self)

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | None | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
    ) -> Vigil:
        """A client with some options changed, sharing this one's connections:
        `client.with_options(max_retries=5).data.add(…)`."""
        copy = object.__new__(Vigil)
        options = self._options.copy(timeout=timeout, max_retries=max_retries, default_headers=default_headers)
        copy._setup(options, self._http, owned=False)
        return copy

    # --- sending ------------------------------------------------------------------------

    def _call(self, call: Call[M]) -> M:
        response = self._send(lambda taken: self._api_request(self._http, call, taken))
        return self._parse(response, call.model)

    def _send(
        self, build: Callable[[int], httpx.Request], *, stream: bool = False, max_retries: int | None = None
    ) -> httpx.Response:
        """Send the request `build(retries_taken)` makes, retrying as the official SDK does.
        With `stream`, a successful answer is returned unread: the caller closes it."""
        if self._http.is_closed:
            raise VigilError("this client has been closed; create a new Vigil() to send more requests")
        allowed = self._options.max_retries if max_retries is None else max_retries
        taken = 0
        while True:
            request = build(taken)
            try:
                response = self._http.send(request, stream=stream)
            except httpx.RequestError as exc:
                if taken < allowed and isinstance(exc, httpx.TransportError):
                    delay = retry_delay_s(taken)
                    self._log_retry(request, repr(exc), delay, taken, allowed)
                    time.sleep(delay)
                    taken += 1
                    continue
                raise connection_error(request, exc) from exc
            if response.is_success:
                return response
            if taken < allowed and should_retry(response):
                delay = retry_delay_s(taken, response.headers)
                response.close()
                self._log_retry(request, f"HTTP {response.status_code}", delay, taken, allowed)
                time.sleep(delay)
                taken += 1
                continue
            try:
                response.read()
            finally:
                response.close()
            raise self._status_error(response)

    # --- closing ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connections (unless the `http_client` was yours)."""
        if self._owns_http:
            self._http.close()

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    def __enter__(self) -> Vigil:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Vigil(base_url={self.base_url!r}, max_retries={self.max_retries})"
