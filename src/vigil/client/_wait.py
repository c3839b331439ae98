"""How `wait()` polls a request: soon at first, then less and less often.

Delays grow by half each time from 0.1 s up to 5 s (0.1, 0.15, 0.23, 0.34 … 5, 5 …), with
±10 % jitter so that many waiting clients do not poll in step. A small add is usually
terminal within the first few polls; a long import costs one status read every 5 s.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Final

__all__ = ["DEFAULT_WAIT_TIMEOUT_S", "poll_delays_s"]

DEFAULT_WAIT_TIMEOUT_S: Final = 300.0
FIRST_POLL_DELAY_S: Final = 0.1
MAX_POLL_DELAY_S: Final = 5.0
POLL_GROWTH: Final = 1.5
POLL_JITTER: Final = 0.1


def poll_delays_s() -> Iterator[float]:
    delay = FIRST_POLL_DELAY_S
    while True:
        yield delay * (1 + POLL_JITTER * (2 * random.random() - 1))
        delay = min(delay * POLL_GROWTH, MAX_POLL_DELAY_S)


def sleep_for_s(delay_s: float, deadline: float | None, now: float) -> float:
    """The next sleep: the delay, cut short so as not to sleep past the deadline."""
    return delay_s if deadline is None else max(0.0, min(delay_s, deadline - now))
