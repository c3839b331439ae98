"""Fetching one URL's body, safely: http(s) only, every connection checked by the guard,
redirects followed by hand (each one a new, checked connection), the body capped in bytes
and the whole fetch capped in time.

    async with Fetcher(FetchLimits(...), AddressGuard(allowed)) as fetcher:
        body = await fetcher.get("https://cdn.example.com/p/1.jpg")

Failures are `FetchError`s with a message that says what happened and `retry` telling
whether another attempt could succeed (a timeout or a 503 may; a refused address will not).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpcore

from vigil.fetch.backend import GuardedBackend, Refused
from vigil.fetch.guard import AddressGuard

USER_AGENT = "Vigil/0.1 (+image hashing for trust and safety)"
_REDIRECTS = (301, 302, 303, 307, 308)


class FetchError(Exception):
    def __init__(self, message: str, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


@dataclass(frozen=True)
class FetchLimits:
    timeout_s: float = 10.0  # the whole fetch, redirects included
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 3


class Fetcher:
    def __init__(self, limits: FetchLimits, guard: AddressGuard, max_connections: int = 8) -> None:
        self._limits = limits
        self._pool = httpcore.AsyncConnectionPool(
            network_backend=GuardedBackend(guard), max_connections=max_connections, retries=0
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._pool.aclose()

    async def get(self, url: str) -> bytes:
        try:
            async with asyncio.timeout(self._limits.timeout_s):
                return await self._follow(url)
        except TimeoutError:
            raise FetchError(f"no complete answer within {self._limits.timeout_s:g} s", retry=True) from None
        except Refused as exc:
            raise FetchError(str(exc), retry=False) from None
        except httpcore.UnsupportedProtocol as exc:
            raise FetchError(f"unsupported URL: {exc}", retry=False) from None
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.TimeoutException) as exc:
            raise FetchError(f"{exc.__class__.__name__}: {exc}", retry=True) from None

    async def _follow(self, url: str) -> bytes:
        for _ in range(self._limits.max_redirects + 1):
            _check_url(url)
            body, location = await self._get_once(url)
            if body is not None:
                return body
            url = urljoin(url, location or "")
        raise FetchError(f"more than {self._limits.max_redirects} redirects", retry=False)

    async def _get_once(self, url: str) -> tuple[bytes | None, str | None]:
        """(the body, None), or (None, where `url` redirects to)."""
        headers = [(b"User-Agent", USER_AGENT.encode()), (b"Accept", b"image/*")]
        async with self._pool.stream("GET", url, headers=headers) as response:
            status = response.status
            if status in _REDIRECTS:
                location = dict((k.lower(), v) for k, v in response.headers).get(b"location")
                if not location:
                    raise FetchError(f"HTTP {status} redirect without a Location", retry=False)
                return None, location.decode("latin-1")
            if status != 200:
                retry = status >= 500 or status in (408, 429)
                raise FetchError(f"HTTP {status} from {_shown(url)}", retry=retry)
            declared = dict((k.lower(), v) for k, v in response.headers).get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self._limits.max_bytes:
                raise FetchError(f"the body is {int(declared)} bytes; at most {self._limits.max_bytes} are read", False)
            chunks = []
            size = 0
            async for chunk in response.aiter_stream():
                size += len(chunk)
                if size > self._limits.max_bytes:
                    raise FetchError(f"the body is over {self._limits.max_bytes} bytes, the most read", retry=False)
                chunks.append(chunk)
            return b"".join(chunks), None


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise FetchError(f"not a URL: {exc}", retry=False) from None
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"only http and https URLs are fetched, not {parts.scheme or 'no scheme'}", retry=False)
    if not parts.hostname:
        raise FetchError("the URL has no host", retry=False)
    if parts.username or parts.password:
        raise FetchError("URLs with credentials are not fetched", retry=False)


def _shown(url: str) -> str:
    return url if len(url) <= 200 else url[:200] + "…"
