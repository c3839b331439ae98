"""The worker's claim loops: a worker that stops leaves no job claimed behind it."""

from __future__ import annotations

import asyncio
import json

from tests.helpers import run_sync
from vigil.config import Settings
from vigil.ids import new_id
from vigil.service import ingest
from vigil.store import keys, migrate
from vigil.store.clock import now_ms
from vigil.store.db import Database
from vigil.store.direct import sql
from vigil.worker.loop import Worker

LIMITS = ingest.Limits(max_objects=1000, max_object_bytes=1 << 20)


def test_a_stopped_worker_finishes_the_batch_it_holds(fresh_backend):
    """On SQLite each finish claims the next batch; a loop told to stop finishes the batch
    it holds instead of leaving it leased (its objects would wait for the lease to end).
    (PostgreSQL claims apart, so there it holds no batch between turns: it passes either way.)"""
    url = fresh_backend.database_url
    run_sync(migrate.upgrade(url))

    async def go() -> tuple[int, int, int]:
        db = Database(url)
        try:
            team = new_id("team")
            async with db.write() as conn:
                await keys.insert_team(conn, team, team, 0)
            for part in range(3):
                body = json.dumps({"data": [{"id": f"o{part}-{n}"} for n in range(1000)]}).encode()
                await ingest.write_submissions(db, [ingest.prepare(team, "products", body, LIMITS)])
            worker = Worker(db, Settings(database_url=url, worker_batch_size=2, worker_concurrency=2))
            running = asyncio.create_task(worker.run())
            decided = 0
            deadline = asyncio.get_running_loop().time() + 30
            while decided < 20:
                assert not running.done(), "the worker stopped by itself"
                assert asyncio.get_running_loop().time() < deadline, "no decisions in 30 s"
                await asyncio.sleep(0.005)
                async with db.read() as conn:
                    decided = (await conn.execute(sql("SELECT count(*) FROM decisions"))).scalar_one()
            worker.stop()
            await asyncio.wait_for(running, 30)
            async with db.read() as conn:
                leased = (
                    await conn.execute(sql("SELECT count(*) FROM jobs WHERE lease_until_ms > :now"), {"now": now_ms()})
                ).scalar_one()
                left = (await conn.execute(sql("SELECT count(*) FROM jobs"))).scalar_one()
                decided = (await conn.execute(sql("SELECT count(*) FROM decisions"))).scalar_one()
            return leased, left, decided
        finally:
            await db.dispose()

    leased, left, decided = run_sync(go())
    assert leased == 0
    assert left + decided == 3000 and 20 <= decided < 3000
