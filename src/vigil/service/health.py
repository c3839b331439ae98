"""Readiness and queue depth, for /readyz and /metrics."""

from __future__ import annotations

from vigil.errors import StoreUnavailable
from vigil.store import migrate, queue, webhook_log
from vigil.store.clock import now_ms
from vigil.store.db import Database


async def readiness_problems(db: Database) -> list[str]:
    try:
        async with db.read() as conn:
            current = await conn.run_sync(migrate.current_revisions)
    except StoreUnavailable as exc:
        return [f"database unreachable: {exc}"]
    heads = migrate.head_revisions()
    if current != heads:
        have = ", ".join(sorted(current)) or "none"
        need = ", ".join(sorted(heads))
        return [f"database schema is at revision {have}, this Vigil needs {need}: run 'vigil migrate'"]
    return []


async def queue_depth(db: Database) -> dict[str, int]:
    async with db.read() as conn:
        depth = await queue.depth(conn)
    return {queue.EVALUATE: 0, **depth}


async def webhook_gauges(db: Database) -> list[dict[str, object]]:
    async with db.read() as conn:
        return await webhook_log.all_endpoint_gauges(conn, now_ms())
