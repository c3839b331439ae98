"""A slow claim refreshes the statistics of its queue table (PostgreSQL), at most once per
interval; a fast one does not (store/statistics.py)."""

from __future__ import annotations

from tests.helpers import run_sync
from vigil.store import queue, statistics
from vigil.store.db import Database
from vigil.store.direct import sql


async def _estimated_rows(db: Database) -> float:
    async with db.direct() as conn:
        return await conn.scalar(sql("SELECT reltuples FROM pg_class WHERE relname = 'jobs'"))


def test_a_slow_claim_analyzes_the_table_once_per_interval(postgres_url):
    async def go() -> list[float]:
        db = Database(postgres_url)
        try:
            watch = statistics.ClaimWatch("jobs")
            seen = [await _estimated_rows(db)]
            async with db.write_direct() as conn:
                jobs = [queue.NewJob(queue.EVALUATE, "t", "ns", f"o{i}", 1, None) for i in range(500)]
                await queue.enqueue(conn, jobs, now_ms=1)
            await watch.claimed(db, statistics.SLOW_CLAIM_S / 2)  # fast: nothing
            seen.append(await _estimated_rows(db))
            await watch.claimed(db, statistics.SLOW_CLAIM_S * 2)  # slow: ANALYZE
            seen.append(await _estimated_rows(db))
            async with db.write_direct() as conn:
                await queue.enqueue(conn, jobs, now_ms=2)
            await watch.claimed(db, statistics.SLOW_CLAIM_S * 2)  # slow again, but within the interval
            seen.append(await _estimated_rows(db))
            return seen
        finally:
            await db.dispose()

    before, after_fast, after_slow, within_interval = run_sync(go())
    assert before == after_fast  # never analyzed: PostgreSQL's "unknown"
    assert after_slow == 500
    assert within_interval == 500
