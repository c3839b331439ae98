"""When to try a failed delivery again.

The default follows Svix's published schedule: at once, then 5 s, 5 min, 30 min, 2 h, 5 h,
10 h and 10 h after each failure (8 attempts over about 27.6 hours). Each wait gets up to
±20 % jitter so that many messages failing together do not retry together.
"""

from __future__ import annotations

import random

DEFAULT_SCHEDULE_S = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
JITTER = 0.2
MAX_RETRY_AFTER_S = 3600.0  # a 429's Retry-After is honoured up to an hour


def parse_schedule(text: str) -> tuple[float, ...]:
    """`"0,5,300"` → (0.0, 5.0, 300.0). The first entry is the delay of the first attempt."""
    values = tuple(float(part) for part in text.split(",") if part.strip())
    if not values or any(v < 0 for v in values):
        raise ValueError("a retry schedule is a comma-separated list of seconds, each 0 or more")
    return values


def next_delay_s(schedule: tuple[float, ...], attempts_made: int, retry_after_s: float | None = None) -> float | None:
    """Seconds to wait before the next attempt, or None when the schedule is exhausted."""
    if attempts_made >= len(schedule):
        return None
    delay = schedule[attempts_made] * (1 + random.uniform(-JITTER, JITTER))
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
    return delay


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None  # an HTTP date: rare from webhook receivers; fall back to the schedule
