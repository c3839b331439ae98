"""Waking workers on PostgreSQL: NOTIFY in the writing transaction, LISTEN in the worker.

PostgreSQL delivers a notification only when the transaction that sent it commits, so a
worker woken by one always finds the jobs committed. Without it, a separate `vigil worker`
would find new jobs only at its next poll (VIGIL_WORKER_POLL_INTERVAL_MS). SQLite has no
such channel: `vigil serve` wakes its in-process worker directly, and `vigil api` wakes
separate workers with a datagram (store/wake.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import structlog

log = structlog.get_logger("vigil.notify")

JOBS_CHANNEL = "vigil_jobs"


async def listen_forever(dsn: str, channel: str, on_notify: Callable[[], None], stopping: asyncio.Event) -> None:
    """Call `on_notify` for each notification on `channel` until `stopping` is set; reconnects."""
    while not stopping.is_set():
        try:
            conn = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("notify.connect_failed", channel=channel, error=str(exc))
            await _sleep_or_stop(stopping, 2.0)
            continue
        try:
            await conn.add_listener(channel, lambda *_: on_notify())
            on_notify()  # anything committed while we were not listening
            while not stopping.is_set() and not conn.is_closed():
                await _sleep_or_stop(stopping, 5.0)
        finally:
            await conn.close()


async def _sleep_or_stop(stopping: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), seconds)
    except TimeoutError:
        pass
