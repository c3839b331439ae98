"""The job queue: claims in batches under a lease, and only the current claim may finish."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
import sqlalchemy as sa

from tests.helpers import run_sync
from vigil.store import migrate, queue, requests
from vigil.store.db import Database


@pytest.fixture
def db_url(fresh_backend) -> str:
    run_sync(migrate.upgrade(fresh_backend.database_url))
    return fresh_backend.database_url


def jobs(n: int) -> list[queue.NewJob]:
    return [queue.NewJob(queue.EVALUATE, "team", "ns", f"o{i}", 1, None) for i in range(n)]


def test_claim_takes_a_batch_oldest_first_and_hides_it_until_the_lease_ends(db_url):
    async def go() -> None:
        db = Database(db_url)
        try:
            async with db.write() as conn:
                await queue.enqueue(conn, jobs(7), now_ms=1_000)
            async with db.write() as conn:
                first = await queue.claim(conn, queue.EVALUATE, "A", 5, now_ms=2_000, lease_ms=10_000)
            assert [j.object_id for j in first] == ["o0", "o1", "o2", "o3", "o4"]
            assert all(j.attempts == 1 for j in first)
            async with db.write() as conn:
                second = await queue.claim(conn, queue.EVALUATE, "B", 5, now_ms=3_000, lease_ms=10_000)
            assert [j.object_id for j in second] == ["o5", "o6"]
            async with db.write() as conn:
                assert await queue.claim(conn, queue.EVALUATE, "C", 5, now_ms=4_000, lease_ms=10_000) == []
        finally:
            await db.dispose()

    run_sync(go())


TOKEN = "5f0c2a9e41d7b3c86e12a0f4"  # as long as a worker's (secrets.token_hex(12))


def test_a_claim_changes_no_indexed_column_and_on_postgresql_writes_no_index_entry(db_url):
    """The lease goes in lease_until_ms; run_after_ms (which leads the claim-order indexes)
    stays. On PostgreSQL every claimed row is then a HOT update (migration 0007 leaves room
    in each page): no new entry in any of jobs' indexes."""

    async def go() -> None:
        db = Database(db_url)
        try:
            async with db.write() as conn:
                await queue.enqueue(conn, jobs(50), now_ms=1_000)
            async with db.write() as conn:
                claimed = await queue.claim(conn, queue.EVALUATE, TOKEN, 40, now_ms=2_000, lease_ms=10_000)
                if conn.dialect.name == "postgresql":
                    hot = await conn.scalar(sa.text("SELECT pg_stat_get_xact_tuples_hot_updated('jobs'::regclass)"))
                    assert hot == len(claimed) == 40
            async with db.read() as conn:
                rows = (await conn.execute(sa.text("SELECT lock_token, lease_until_ms, run_after_ms FROM jobs"))).all()
            assert {tuple(r) for r in rows} == {(TOKEN, 12_000, 1_000), (None, None, 1_000)}
            assert sum(1 for r in rows if r.lock_token == TOKEN) == 40
        finally:
            await db.dispose()

    run_sync(go())


def test_a_claim_made_before_migration_0007_is_held_until_its_lease_in_run_after_ms(db_url):
    """Workers of the old code, still running while the new one starts, claim by moving
    run_after_ms and leave lease_until_ms empty: such a job comes back when that time passes."""

    async def go() -> None:
        db = Database(db_url)
        try:
            async with db.write() as conn:
                await queue.enqueue(conn, jobs(1), now_ms=1_000)
                await conn.execute(sa.text("UPDATE jobs SET lock_token = 'old', run_after_ms = 31000"))
            async with db.write() as conn:
                assert await queue.claim(conn, queue.EVALUATE, "A", 10, now_ms=30_999, lease_ms=10_000) == []
                (job,) = await queue.claim(conn, queue.EVALUATE, "A", 10, now_ms=31_000, lease_ms=10_000)
            async with db.write() as conn:
                assert await queue.finish(conn, "old", [job.id]) == set()  # the old claim lost it
                assert await queue.finish(conn, "A", [job.id]) == {job.id}
        finally:
            await db.dispose()

    run_sync(go())


def test_expired_lease_lets_another_worker_claim_and_the_late_one_cannot_finish(db_url):
    async def go() -> None:
        db = Database(db_url)
        try:
            async with db.write() as conn:
                await queue.enqueue(conn, jobs(2), now_ms=1_000)
            async with db.write() as conn:
                claimed_by_a = await queue.claim(conn, queue.EVALUATE, "A", 10, now_ms=2_000, lease_ms=1_000)
            # A stalls past its lease; B takes the same jobs
            async with db.write() as conn:
                claimed_by_b = await queue.claim(conn, queue.EVALUATE, "B", 10, now_ms=3_001, lease_ms=1_000)
            assert [j.id for j in claimed_by_b] == [j.id for j in claimed_by_a]
            assert all(j.attempts == 2 for j in claimed_by_b)
            async with db.write() as conn:
                assert await queue.finish(conn, "A", [j.id for j in claimed_by_a]) == set()
            async with db.write() as conn:
                assert await queue.finish(conn, "B", [j.id for j in claimed_by_b]) == {j.id for j in claimed_by_b}
            async with db.read() as conn:
                assert await queue.depth(conn) == {}
        finally:
            await db.dispose()

    run_sync(go())


def test_retry_later_returns_the_job_after_its_delay(db_url):
    async def go() -> None:
        db = Database(db_url)
        try:
            async with db.write() as conn:
                await queue.enqueue(conn, jobs(1), now_ms=1_000)
            async with db.write() as conn:
                (job,) = await queue.claim(conn, queue.EVALUATE, "A", 10, now_ms=1_000, lease_ms=30_000)
                assert await queue.retry_later(conn, "A", job.id, run_after_ms=5_000, error="boom")
            async with db.write() as conn:
                assert await queue.claim(conn, queue.EVALUATE, "B", 10, now_ms=4_999, lease_ms=30_000) == []
                (again,) = await queue.claim(conn, queue.EVALUATE, "B", 10, now_ms=5_000, lease_ms=30_000)
            assert again.id == job.id and again.attempts == 2
        finally:
            await db.dispose()

    run_sync(go())


def test_concurrent_claimers_never_get_the_same_job(db_url):
    async def go() -> None:
        db = Database(db_url)
        try:
            async with db.write() as conn:
                await queue.enqueue(conn, jobs(500), now_ms=1_000)

            async def claimer(token: str) -> list[int]:
                got: list[int] = []
                while True:
                    async with db.write() as conn:
                        batch = await queue.claim(conn, queue.EVALUATE, token, 7, now_ms=2_000, lease_ms=60_000)
                    if not batch:
                        return got
                    got.extend(j.id for j in batch)

            results = await asyncio.gather(*(claimer(f"w{i}") for i in range(4)))
            every = [job_id for result in results for job_id in result]
            assert len(every) == 500 and len(set(every)) == 500
        finally:
            await db.dispose()

    run_sync(go())


def test_only_requests_of_several_items_show_ingesting_when_claimed(db_url):
    """A single-item request goes from queued to its terminal state in the finish; one with
    several items shows `ingesting` from its first claim (store/requests.mark_ingesting)."""

    async def go() -> list[dict[str, str]]:
        db = Database(db_url)

        async def statuses() -> dict[str, str]:
            async with db.read() as conn:
                return {rid: (await requests.get(conn, "team", "ns", rid)).status for rid in ("req_one", "req_two")}

        try:
            async with db.write() as conn:
                await requests.insert_many(
                    conn,
                    [requests.NewRequest("req_one", "team", "ns", "add", 1),
                     requests.NewRequest("req_two", "team", "ns", "add", 2)],
                    1_000,
                )  # fmt: skip
            seen = [await statuses()]
            async with db.write() as conn:
                await requests.mark_ingesting(conn, ["req_one", "req_two"], 2_000)
            seen.append(await statuses())
            async with db.write() as conn:
                done, counted = await requests.count_done(
                    conn, {"req_one": (1, 0), "req_two": (1, 0), "req_rowless": (1, 0)}, 3_000
                )
            assert [r.id for r in done] == ["req_one"]
            # A call of one object has no row; the caller completes it (service/evaluation.py).
            assert counted == {"req_one", "req_two"}
            seen.append(await statuses())
            return seen
        finally:
            await db.dispose()

    assert run_sync(go()) == [
        {"req_one": "queued", "req_two": "queued"},
        {"req_one": "queued", "req_two": "ingesting"},
        {"req_one": "succeeded", "req_two": "ingesting"},
    ]


def test_a_claim_says_which_jobs_hold_back_a_later_version_of_their_object(db_url):
    """Of one object only the lowest queued version is claimed; `later` tells the claimer that
    finishing it makes the next one claimable (the worker then claims again at once)."""

    async def go() -> list[tuple[str, int, bool]]:
        db = Database(db_url)
        try:
            async with db.write() as conn:
                versions = (("a", 1), ("a", 2), ("b", 1))
                new = [queue.NewJob(queue.EVALUATE, "team", "ns", oid, v, None) for oid, v in versions]
                await queue.enqueue(conn, new, now_ms=1_000)
            async with db.write() as conn:
                first = await queue.claim(conn, queue.EVALUATE, "A", 10, now_ms=2_000, lease_ms=10_000)
                await queue.finish(conn, "A", [j.id for j in first])
            async with db.write() as conn:
                second = await queue.claim(conn, queue.EVALUATE, "B", 10, now_ms=3_000, lease_ms=10_000)
            return [(j.object_id, j.version, j.later) for j in first + second]
        finally:
            await db.dispose()

    assert run_sync(go()) == [("a", 1, True), ("b", 1, False), ("a", 2, False)]


def test_sqlite_claim_statements_probe_indexes_and_never_scan_the_queue(tmp_path):
    """With a backlog, a statement that scans `jobs` makes every claim O(queue): asking for
    `later` in the claim's RETURNING did that on SQLite (a scan per claimed job), and
    `vigil serve` fell from 7.1k to 2.4k single-object POSTs/s in the benchmark."""
    path = tmp_path / "plans.db"
    run_sync(migrate.upgrade(f"sqlite:///{path}"))
    params = {**queue.claim_params("tok", 100, 1_000, 30_000), "ids": "[1, 2]"}
    with sqlite3.connect(path) as conn:
        for statement in (
            queue.claim_statement(False, queue.EVALUATE),
            queue.claim_statement(False, queue.IMPORT),
            queue.SQLITE_LATER,
        ):
            plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}", params)]
            scans = [step for step in plan if step.startswith("SCAN") and "json_each" not in step]
            assert scans == [], (statement, plan)
            if "'import'" in statement:  # the import runner's claim: import jobs only
                assert any("ix_jobs_import_due" in step for step in plan), plan
