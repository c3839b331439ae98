"""Group commit (service/group_commit.py): what waits shares one write, taken when the writer
can write; a failure fails only what it must."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import dataclass, field

import pytest
from prometheus_client import REGISTRY

from tests.helpers import query, run_sync
from vigil.errors import StoreUnavailable
from vigil.ids import new_id
from vigil.service import ingest
from vigil.service.group_commit import GroupCommitter
from vigil.store import keys, migrate
from vigil.store.db import Database


@dataclass
class Call:
    name: str
    bad: bool = False
    size: int = 1


@dataclass
class Writer:
    """Writes (records) what `take()` returns once `gate` opens; fails on a bad call or as told."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    writes: list[list[str]] = field(default_factory=list)
    fail_before_take: Exception | None = None

    async def __call__(self, take) -> None:
        await self.gate.wait()
        if self.fail_before_take is not None:
            raise self.fail_before_take
        calls = take()
        if any(c.bad for c in calls):
            raise ValueError("a bad call")
        self.writes.append([c.name for c in calls])


async def settle(tasks: list[asyncio.Task]) -> list[object]:
    return await asyncio.gather(*tasks, return_exceptions=True)


def test_calls_that_arrive_while_the_writer_waits_share_its_write():
    async def go() -> tuple[list[list[str]], list[object]]:
        writer = Writer()
        committer = GroupCommitter(writer, max_objects=100, flushers=1)
        first = asyncio.create_task(committer.submit(Call("a")))
        await asyncio.sleep(0.01)  # the flusher is in the writer, waiting for its gate (the lock)
        later = [asyncio.create_task(committer.submit(Call(n))) for n in "bc"]
        await asyncio.sleep(0.01)
        assert not first.done()  # nobody is answered before the write
        writer.gate.set()
        results = await settle([first, *later])
        await committer.close()
        return writer.writes, results

    writes, results = asyncio.run(go())
    assert writes == [["a", "b", "c"]]  # taken before the wait, "b" and "c" would be a second write
    assert results == [None, None, None]


def test_a_writer_that_fails_before_taking_fails_the_waiting_calls_and_goes_on():
    async def go() -> tuple[list[object], object, list[list[str]]]:
        writer = Writer(fail_before_take=StoreUnavailable("database unavailable: gone"))
        committer = GroupCommitter(writer, max_objects=100, flushers=1)
        calls = [asyncio.create_task(committer.submit(Call(n))) for n in "ab"]
        await asyncio.sleep(0.01)
        writer.gate.set()
        failed = await settle(calls)
        writer.fail_before_take = None  # the database is back
        after = await asyncio.wait_for(committer.submit(Call("c")), 5)
        await committer.close()
        return failed, after, writer.writes

    failed, after, writes = asyncio.run(go())
    assert [type(r) for r in failed] == [StoreUnavailable, StoreUnavailable]
    assert after is None and writes == [["c"]]


def test_a_call_whose_caller_went_away_while_the_writer_waited_is_not_written():
    async def go() -> list[list[str]]:
        writer = Writer()
        committer = GroupCommitter(writer, max_objects=100, flushers=1)
        first = asyncio.create_task(committer.submit(Call("a")))
        await asyncio.sleep(0.01)
        gone = asyncio.create_task(committer.submit(Call("gone")))
        stays = asyncio.create_task(committer.submit(Call("b")))
        await asyncio.sleep(0.01)
        gone.cancel()  # the client disconnected before its call was taken
        writer.gate.set()
        await settle([first, gone, stays])
        await committer.close()
        return writer.writes

    assert asyncio.run(go()) == [["a", "b"]]


def test_a_writer_that_fails_otherwise_before_taking_retries_the_waiting_calls_one_by_one():
    async def go() -> tuple[list[object], list[list[str]]]:
        writer = Writer(fail_before_take=RuntimeError("a bug before the write"))
        committer = GroupCommitter(writer, max_objects=100, flushers=1)
        calls = [asyncio.create_task(committer.submit(Call(n))) for n in "ab"]
        await asyncio.sleep(0.01)
        writer.gate.set()
        results = await asyncio.wait_for(settle(calls), 5)
        await committer.close()
        return results, writer.writes

    results, writes = asyncio.run(go())
    assert [type(r) for r in results] == [RuntimeError, RuntimeError] and writes == []


def test_a_writer_that_returns_without_taking_fails_the_waiting_calls_instead_of_spinning():
    async def go() -> list[object]:
        async def lazy(take) -> None:
            await asyncio.sleep(0)

        committer = GroupCommitter(lazy, max_objects=100, flushers=1)
        results = await asyncio.wait_for(settle([asyncio.create_task(committer.submit(Call("a")))]), 5)
        await committer.close()
        return results

    (result,) = asyncio.run(go())
    assert isinstance(result, RuntimeError) and "take()" in str(result)


def test_a_failed_shared_write_is_retried_call_by_call():
    async def go() -> tuple[list[object], list[list[str]]]:
        writer = Writer()
        committer = GroupCommitter(writer, max_objects=100, flushers=1)
        calls = [asyncio.create_task(committer.submit(c)) for c in (Call("a"), Call("b", bad=True), Call("c"))]
        await asyncio.sleep(0.01)
        writer.gate.set()
        results = await settle(calls)
        await committer.close()
        return results, writer.writes

    results, writes = asyncio.run(go())
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], ValueError)
    assert writes == [["a"], ["c"]]


def test_a_write_takes_at_most_max_objects():
    async def go() -> list[list[str]]:
        writer = Writer()
        writer.gate.set()
        committer = GroupCommitter(writer, max_objects=5, flushers=1)
        calls = [asyncio.create_task(committer.submit(Call(n, size=2))) for n in "abcd"]
        await settle(calls)
        await committer.close()
        return writer.writes

    assert asyncio.run(go()) == [["a", "b"], ["c", "d"]]


def commits() -> tuple[float, float]:
    count = REGISTRY.get_sample_value("vigil_ingest_commit_submissions_count") or 0.0
    total = REGISTRY.get_sample_value("vigil_ingest_commit_submissions_sum") or 0.0
    return count, total


def test_posts_that_arrive_while_another_process_holds_sqlites_lock_share_one_commit(fresh_backend):
    """The real writer on SQLite: the calls made while the flusher waits for the write lock
    (held here by another connection, as a worker process holds it) are written with the
    first, in one transaction, once the lock is free."""
    if fresh_backend.name != "sqlite":
        pytest.skip("SQLite only: on PostgreSQL a group is taken at once (no database-wide write lock)")
    url = fresh_backend.database_url
    run_sync(migrate.upgrade(url))

    async def go() -> tuple[float, float, list[object]]:
        db = Database(url)
        team = new_id("team")
        async with db.write() as conn:
            await keys.insert_team(conn, team, team, 0)
        committer = GroupCommitter(lambda take: ingest.write_taken(db, take), max_objects=2000, flushers=1)
        blocker = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        count, total = commits()
        try:
            blocker.execute("BEGIN IMMEDIATE")

            def call(n: int) -> ingest.Submission:
                obj = {"id": f"o{n}", "n": n}
                return ingest.Submission(team, "products", new_id("req"), [(obj["id"], obj, json.dumps(obj))])

            first = asyncio.create_task(committer.submit(call(0)))
            await asyncio.sleep(0.05)  # the flusher is retrying BEGIN IMMEDIATE
            later = [asyncio.create_task(committer.submit(call(n))) for n in range(1, 5)]
            await asyncio.sleep(0.05)
            assert not first.done()
            blocker.execute("COMMIT")
            results = await asyncio.wait_for(settle([first, *later]), 10)
        finally:
            blocker.close()
            await committer.close()
            await db.dispose()
        after_count, after_total = commits()
        return after_count - count, after_total - total, results

    transactions, submissions, results = run_sync(go())
    assert results == [None] * 5
    assert (transactions, submissions) == (1, 5)
    rows = query(url, "SELECT object_id, version FROM object_versions ORDER BY object_id")
    assert [tuple(r) for r in rows] == [(f"o{n}", 1) for n in range(5)]
    assert query(url, "SELECT count(*) FROM jobs")[0][0] == 5
