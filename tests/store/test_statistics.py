"""A slow claim refreshes the statistics of its queue table (PostgreSQL), at most once per
interval; a fast one does not (store/statistics.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import drop_backend, make_backend
from tests.helpers import run_sync
from vigil.store import migrate, queue, statistics
from vigil.store.db import Database
from vigil.store.direct import sql


@pytest.fixture
def db_url(tmp_path) -> Iterator[str]:
    """A PostgreSQL database of its own (SQLite's planner has no such statistics to refresh)."""
    made = make_backend("postgres", tmp_path)
    run_sync(migrate.upgrade(made.database_url))
    yield made.database_url
    drop_backend(made)


async def _estimated_rows(db: Database) -> float:
    async with db.direct() as conn:
        return await conn.scalar(sql("SELECT reltuples FROM pg_class WHERE relname = 'jobs'"))


def test_a_slow_claim_analyzes_the_table_once_per_interval(db_url):
    async def go() -> list[float]:
        db = Database(db_url)
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
