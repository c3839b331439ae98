"""SQLite write transactions on the kept write connection: BEGIN IMMEDIATE is tried without
waiting, and waits (in aiosqlite's thread, not on the event loop) only while another process
holds the write lock; a failed transaction leaves the connection usable."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest

from tests.helpers import run_sync
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
