"""Client settings: their defaults, the environment variables, and the resolved options."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final

import httpx

from vigil import __version__
from vigil.client._errors import VigilError

__all__ = ["DEFAULT_MAX_RETRIES", "DEFAULT_TIMEOUT", "NOT_GIVEN", "NotGiven", "Options"]

API_KEY_ENV: Final = "VIGIL_API_KEY"
BASE_URL_ENV: Final = "VIGIL_BASE_URL"
DEFAULT_BASE_URL: Final = "http://127.0.0.1:8000"  # where `vigil serve` listens by default
DEFAULT_TIMEOUT: Final = httpx.Timeout(60.0, connect=5.0)  # seconds, as the official SDK
DEFAULT_MAX_RETRIES: Final = 2  # 3 attempts in all, as the official SDK
DEFAULT_LIMITS: Final = httpx.Limits(max_connections=100, max_keepalive_connections=20)
USER_AGENT: Final = f"Vigil/Python {__version__}"


class NotGiven:
    """The value of an argument left out. It differs from None, which can mean something
    (`event_types=None` sets an endpoint to receive every event type)."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven()


@dataclass(frozen=True)
class Options:
    api_key: str
    base_url: str  # without a trailing slash
    timeout: httpx.Timeout
    max_retries: int
    default_headers: Mapping[str, str]

    @classmethod
    def resolve(
        cls,
        api_key: str | None,
        base_url: str | httpx.URL | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        default_headers: Mapping[str, str] | None,
    ) -> Options:
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        if not key:
            raise VigilError(f"no API key: pass api_key='sk_…' or set the {API_KEY_ENV} environment variable")
        url = str(base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL)
        if not url.startswith(("http://", "https://")):
            raise VigilError(f"base_url must start with http:// or https://, got {url!r}")
        if max_retries < 0:
            raise VigilError(f"max_retries must be 0 or more, got {max_retries}")
        return cls(key, url.rstrip("/"), _timeout(timeout), max_retries, dict(default_headers or {}))

    def copy(
        self,
        *,
        timeout: float | httpx.Timeout | None | NotGiven = NOT_GIVEN,
        max_retries: int | NotGiven = NOT_GIVEN,
        default_headers: Mapping[str, str] | NotGiven = NOT_GIVEN,
    ) -> Options:
        changed = self
        if not isinstance(timeout, NotGiven):
            changed = replace(changed, timeout=_timeout(timeout))
        if not isinstance(max_retries, NotGiven):
            changed = replace(changed, max_retries=max_retries)
        if not isinstance(default_headers, NotGiven):
            changed = replace(changed, default_headers={**self.default_headers, **default_headers})
        return changed


def _timeout(value: float | httpx.Timeout | None) -> httpx.Timeout:
    """A number is seconds for every phase; None waits for ever (as in httpx)."""
    return value if isinstance(value, httpx.Timeout) else httpx.Timeout(value)
