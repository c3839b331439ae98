"""When to retry, and how long to wait first: the official SafetyKit SDK's policy.

Retried: no answer (connection error, timeout), and 408, 409, 429 and every 5xx, unless the
answer says `x-should-retry: false`; any answer saying `x-should-retry: true` is retried too.
The wait is the server's `retry-after-ms` or `Retry-After` when it asks for 0 < d ≤ 60 s;
otherwise min(0.5 s × 2^n, 8 s) for the n-th retry, less up to 25 % jitter: 0.38-0.5 s,
0.75-1 s, 1.5-2 s, 3-4 s, 6-8 s, 6-8 s …
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from typing import Final

import httpx

__all__ = ["retry_delay_s", "should_retry"]

INITIAL_RETRY_DELAY_S: Final = 0.5
MAX_RETRY_DELAY_S: Final = 8.0
MAX_RETRY_AFTER_S: Final = 60.0  # a longer Retry-After falls back to the backoff
JITTER: Final = 0.25
RETRY_STATUSES: Final = frozenset({408, 409, 429})


def should_retry(response: httpx.Response) -> bool:
    asked = response.headers.get("x-should-retry", "").strip().lower()
    if asked == "true":
        return True
    if asked == "false":
        return False
    return response.status_code in RETRY_STATUSES or response.status_code >= 500


def retry_after_s(headers: httpx.Headers, now_s: float | None = None) -> float | None:
    """What the server asks for: `retry-after-ms`, else `Retry-After` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    after = headers.get("retry-after")
    if after is None:
        return None
    try:
        return float(after)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(after)
    except (TypeError, ValueError):
        return None
    return when.timestamp() - (time.time() if now_s is None else now_s)


def retry_delay_s(
    retries_taken: int, headers: httpx.Headers | None = None, rand: Callable[[], float] = random.random
) -> float:
    asked = None if headers is None else retry_after_s(headers)
    if asked is not None and 0 < asked <= MAX_RETRY_AFTER_S:
        return asked
    backoff = min(INITIAL_RETRY_DELAY_S * 2.0**retries_taken, MAX_RETRY_DELAY_S)
    return backoff * (1 - JITTER * rand())
