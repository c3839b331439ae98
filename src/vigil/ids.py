"""Opaque ids: a type prefix and a lower-case ULID (`req_01h2m7qdmdjckc30e1mnq6xqfd`)."""

from __future__ import annotations

import os
import threading
import time

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


# Two Crockford characters per 10 bits: 13 look-ups instead of 26 shifts (half the time, and
# two ids are made per accepted request).
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]


# Random bits are read from the OS 4 KiB at a time: one getrandom() call per id was 5 % of an
# API process's time at single-object saturation (py-spy; a system call is slow on this VM).
_POOL_BYTES = 4096
_pool = b""
_at = _POOL_BYTES
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    global _pool, _at, _pool_lock
    _pool, _at = b"", _POOL_BYTES
    _pool_lock = threading.Lock()  # another thread may have held it at the fork


# A forked child must not hand out the same bits as its parent.
os.register_at_fork(after_in_child=_forget_pool)


def _random80() -> int:
    global _pool, _at
    with _pool_lock:  # two threads must never take the same slice
        if _at + 10 > len(_pool):
            _pool, _at = os.urandom(_POOL_BYTES), 0
        at = _at
        _at = at + 10
        return int.from_bytes(_pool[at : at + 10], "big")


def ulid(now_ms: int | None = None) -> str:
    """48 bits of milliseconds then 80 random bits, Crockford base32: sorts by creation time."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    v = (ms << 80) | _random80()
    p = _PAIRS
    return "".join(
        (
            p[v >> 120], p[(v >> 110) & 1023], p[(v >> 100) & 1023], p[(v >> 90) & 1023], p[(v >> 80) & 1023],
            p[(v >> 70) & 1023], p[(v >> 60) & 1023], p[(v >> 50) & 1023], p[(v >> 40) & 1023],
            p[(v >> 30) & 1023], p[(v >> 20) & 1023], p[(v >> 10) & 1023], p[v & 1023],
        )
    )  # fmt: skip


def new_id(prefix: str) -> str:
    return f"{prefix}_{ulid()}"
