"""Keeping PostgreSQL's statistics of the queue tables fresh enough for their claims.

A claim reads the first due rows in index order and takes a few milliseconds. When a bulk
load (an import, a backlog) has grown a queue table far past what its statistics say,
PostgreSQL's planner estimates a handful of matching rows and plans a scan and sort of the
whole table instead: measured 0.3-1 s a claim at 100-300k jobs, and evaluation crawled at
~200 objects/s during a 1,000,000-line import. Autovacuum's ANALYZE comes a minute or more
later, so a claim that was slow runs one itself (at most every ANALYZE_EVERY_S per table and
process). The new statistics invalidate the cached plans of the claim statements.
"""

from __future__ import annotations

import time

import structlog

from vigil.store.db import Database
from vigil.store.direct import sql

log = structlog.get_logger("vigil.statistics")

SLOW_CLAIM_S = 0.1
ANALYZE_EVERY_S = 10.0


class ClaimWatch:
    """Runs ANALYZE on `table` after a claim that took longer than SLOW_CLAIM_S (PostgreSQL)."""

    def __init__(self, table: str) -> None:
        self._table = table
        self._last = -ANALYZE_EVERY_S

    async def claimed(self, db: Database, took_s: float) -> None:
        if db.is_sqlite or took_s < SLOW_CLAIM_S:
            return
        if time.monotonic() - self._last < ANALYZE_EVERY_S:
            return
        self._last = time.monotonic()
        log.info("statistics.analyze_after_slow_claim", table=self._table, claim_ms=round(took_s * 1000))
        async with db.direct() as conn:
            await conn.execute(sql(f"ANALYZE {self._table}"))
