"""SQLite write transactions on the kept write connection: while another process holds the
write lock, BEGIN IMMEDIATE is tried again after short pauses on the event loop (which keeps
running) and takes the lock moments after it is released; a failed transaction leaves the
connection usable; a claim's transaction may commit without waiting for the disk."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest

from tests.helpers import run_sync
from vigil.errors import StoreUnavailable
from vigil.store import db as db_module
from vigil.store import migrate
from vigil.store.db import Database
from vigil.store.direct import sql


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'vigil.db'}"
    run_sync(migrate.upgrade(url))
    return url


async def _put(db: Database, key: str) -> None:
    async with db.write_direct() as conn:
        await conn.execute(sql("INSERT INTO teams (id, name, created_at_ms) VALUES (:id, :id, 0)"), {"id": key})


def _teams(path: str) -> list[str]:
    with sqlite3.connect(path) as plain:
        return [row[0] for row in plain.execute("SELECT id FROM teams ORDER BY id")]


def test_a_write_waits_for_another_process_lock_without_blocking_the_loop(sqlite_url):
    path = sqlite_url[len("sqlite:///") :]
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("PRAGMA journal_mode=WAL")  # as every Vigil process leaves the file
    other.execute("BEGIN IMMEDIATE")  # another process's write transaction, held for 0.4 s
    threading.Timer(0.4, lambda: other.execute("COMMIT")).start()

    async def go() -> tuple[float, int]:
        db = Database(sqlite_url)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.ensure_future(tick())
        try:
            started = time.monotonic()
            await _put(db, "team_waited")
            return time.monotonic() - started, ticks
        finally:
            ticker.cancel()
            await db.dispose()

    waited, ticks = run_sync(go())
    other.close()
    assert waited >= 0.3  # it did wait for the other lock, and did not fail
    assert ticks >= 10  # the event loop kept running meanwhile
    assert _teams(path) == ["team_waited"]


def test_a_failed_transaction_rolls_back_and_the_next_one_commits(sqlite_url):
    path = sqlite_url[len("sqlite:///") :]

    async def go() -> None:
        db = Database(sqlite_url)
        try:
            await _put(db, "team_a")
            with pytest.raises(sqlite3.IntegrityError):
                async with db.write_direct() as conn:
                    await conn.execute(sql("INSERT INTO teams (id, name, created_at_ms) VALUES ('team_b', 'b', 0)"))
                    await conn.execute(sql("INSERT INTO teams (id, name, created_at_ms) VALUES ('team_a', 'a', 0)"))
            await _put(db, "team_c")
        finally:
            await db.dispose()

    run_sync(go())
    assert _teams(path) == ["team_a", "team_c"]


def test_a_waiting_write_takes_the_lock_moments_after_it_is_released(sqlite_url):
    """SQLite's busy handler, which waited here before, sleeps 100 ms at a time once it has
    waited a quarter of a second: a lock released at 0.45 s was taken at ≈ 0.53 s."""
    path = sqlite_url[len("sqlite:///") :]
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("PRAGMA journal_mode=WAL")
    released: list[float] = []

    def release() -> None:
        other.execute("COMMIT")
        released.append(time.monotonic())

    async def go() -> float:
        db = Database(sqlite_url)
        try:
            await _put(db, "team_first")  # the write connection is open before the wait starts
            other.execute("BEGIN IMMEDIATE")
            threading.Timer(0.45, release).start()
            await _put(db, "team_waited")
            return time.monotonic()
        finally:
            await db.dispose()

    done = run_sync(go())
    other.close()
    assert released and 0 <= done - released[0] < 0.05
    assert _teams(path) == ["team_first", "team_waited"]


def test_a_write_gives_up_after_the_busy_timeout_as_store_unavailable(sqlite_url, monkeypatch):
    path = sqlite_url[len("sqlite:///") :]
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_MS", 200)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("PRAGMA journal_mode=WAL")
    other.execute("BEGIN IMMEDIATE")

    async def go() -> None:
        db = Database(sqlite_url)
        try:
            with pytest.raises(StoreUnavailable):
                await _put(db, "team_never")
            other.execute("COMMIT")
            await _put(db, "team_later")  # the connection recovers once the lock is free
        finally:
            await db.dispose()

    run_sync(go())
    other.close()
    assert _teams(path) == ["team_later"]


def test_an_unflushed_transaction_commits_without_sync_and_the_next_one_syncs_again(sqlite_url):
    path = sqlite_url[len("sqlite:///") :]

    async def synchronous(db: Database, team: str, flush: bool, fail: bool = False) -> int:
        async with db.write_direct(flush=flush) as conn:
            level = await conn.scalar(sql("PRAGMA synchronous"))
            await conn.execute(sql("INSERT INTO teams (id, name, created_at_ms) VALUES (:id, :id, 0)"), {"id": team})
            if fail:
                raise RuntimeError("boom")
        return level

    async def go() -> list[int]:
        db = Database(sqlite_url)
        try:
            levels = [await synchronous(db, "team_claim", flush=False)]
            with pytest.raises(RuntimeError):
                await synchronous(db, "team_failed", flush=False, fail=True)
            levels.append(await synchronous(db, "team_data", flush=True))
            return levels
        finally:
            await db.dispose()

    assert run_sync(go()) == [1, 2]  # NORMAL for the claim, FULL again after it (and after a failure)
    assert _teams(path) == ["team_claim", "team_data"]
