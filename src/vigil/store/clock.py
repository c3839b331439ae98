"""Wall-clock milliseconds, the unit of every `*_ms` column."""

import time


def now_ms() -> int:
    return int(time.time() * 1000)
