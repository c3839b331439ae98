"""The database handle: one async engine, a write path and a read path.

SQLite is single-writer: in one process every write transaction takes `_write_lock`, and
starts with BEGIN IMMEDIATE so that processes sharing the file queue for SQLite's own lock
(the hot paths in short pauses on the event loop, the rest in busy_timeout) instead of
failing on a read-to-write upgrade.
PostgreSQL writes run concurrently; row locks and SKIP LOCKED keep them apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from vigil.errors import StoreUnavailable
from vigil.store import wake
from vigil.store.direct import DirectConnection, is_unavailable

_WRITE = "vigil_write"
BUSY_TIMEOUT_MS = 30_000  # SQLite: how long a statement waits for another process's lock
# SQLite, hot write transactions: pauses on the event loop between tries for a write lock that
# another process holds (see _begin_immediate).
LOCK_PAUSE_MIN_S = 0.0001
LOCK_PAUSE_MAX_S = 0.0005
SQLITE_SYNCHRONOUS = "FULL"  # every commit waits for the disk (but see write_direct's `flush`)


def async_url(url: str) -> str:
    """Accept the plain URLs people write and pick our async drivers."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///") and "+" not in url.split(":", 1)[0]:
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def _json_encode(value: object) -> str:
    return msgspec.json.encode(value).decode()


# Every statement of ours is a look-up by key or a walk of an index in its order (the queue's
# claim order), never a read of a whole table. PostgreSQL's cached generic plans are made from
# the statistics of the moment, and a queue table is nearly empty most of the time: planned
# then, the claim scanned and sorted all of `jobs` (and the dead rows its deletes leave until
# vacuum), and the finish's request count scanned all of `requests`, at every batch, until the
# next ANALYZE. Turning sequential scans off makes index paths win whatever the statistics say;
# where no index fits, PostgreSQL still scans (it is a cost penalty, not a ban). Measured side
# by side: `vigil api` + `vigil worker` single objects +10 %, +16 %, +13 % (docs/decisions.md).
# JIT off as well: a statement that still scans (the /metrics queue depth) now costs past
# jit_above_cost, and LLVM compiled it at every run (24 ms for an empty table). Vigil runs
# no analytic queries that JIT would pay for.
PG_SESSION_SETTINGS = {"enable_seqscan": "off", "jit": "off"}
# A worker's sessions (Database(worker=True)) also turn bitmap scans off: the claim's bitmap
# scan of the claim-order index read every due entry, and every entry of a job deleted since
# the last vacuum (autovacuum visits a table at most once a minute), sorted them and kept a
# batch: at single-object saturation 46 % of the worker's PostgreSQL CPU. An index scan walks
# the index in claim order, stops at the batch, and marks the dead entries it passes so that
# later claims skip them. (Pairs of keys are asked as two arrays joined on the key, not as an
# OR, which needs a bitmap scan.) And generic plans always: PostgreSQL kept planning the claim
# afresh at every execution (0.7 ms of planning to 0.9 ms of execution for a batch), as its
# generic plan looked dearer. Not the API's sessions: a generic plan of the delivery log's
# listing, blind to its team and filters, walked every team's messages (0.9-4.6 → 86-105 ms
# at 300,000 messages, found in review).
PG_WORKER_SESSION_SETTINGS = {
    **PG_SESSION_SETTINGS,
    "enable_bitmapscan": "off",
    "plan_cache_mode": "force_generic_plan",
}


class Database:
    def __init__(self, url: str, pool_size: int = 8, worker: bool = False) -> None:
        """`worker`: PostgreSQL sessions for a worker's claim loops (PG_WORKER_SESSION_SETTINGS)."""
        self.url = async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        options: dict[str, object] = {
            "json_serializer": _json_encode,
            "json_deserializer": msgspec.json.decode,
        }
        if not self.is_sqlite:
            options.update(
                pool_size=pool_size, max_overflow=0, pool_pre_ping=False,
                connect_args={"server_settings": PG_WORKER_SESSION_SETTINGS if worker else PG_SESSION_SETTINGS},
            )  # fmt: skip
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        # SQLite: one connection kept for direct write transactions (taken from the pool once),
        # so that a flush does not pay the pool's checkout and reset-on-return ROLLBACK, each a
        # trip to aiosqlite's thread.
        self._writer: AsyncConnection | None = None
        # A plain libpq URL for a LISTEN connection of its own (PostgreSQL only).
        self.listen_dsn = None if self.is_sqlite else "postgresql://" + self.url.split("://", 1)[1]
        # SQLite: where separate worker processes of this file listen to be woken (store/wake.py).
        parsed = sa.engine.make_url(self.url)
        self.wake_folder = wake.folder_for(parsed.database or "") if self.is_sqlite else None
        # Whether another process can open this database (all but an in-memory SQLite one).
        in_memory = parsed.query.get("mode") == "memory"  # file:x?mode=memory
        self.shareable = not self.is_sqlite or (self.wake_folder is not None and not in_memory)
        if self.is_sqlite:
            _configure_sqlite(self.engine)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction; commits when the block ends without error."""
        if self._write_lock is None:
            async with self._transaction(write=True) as conn:
                yield conn
            return
        async with self._write_lock:
            async with self._transaction(write=True) as conn:
                yield conn

    @asynccontextmanager
    async def write_direct(self, flush: bool = True) -> AsyncIterator[DirectConnection]:
        """A write transaction whose statements go straight to the driver (see store/direct.py).

        `flush=False` (SQLite; PostgreSQL ignores it): the commit does not wait for the disk
        (`synchronous=NORMAL` for this transaction: in WAL mode the commit skips its fsync, a
        checkpoint still syncs, the file stays consistent). Only for a transaction whose loss
        in a power cut loses nothing, such as a claim (its jobs are claimed again). SQLite's
        WAL is replayed in order, so nothing committed after it can survive without it, and
        the next flushed commit makes it durable too. The fsync is ≈ 0.7 ms here, taken while
        holding the write lock that the API needs. (Not OFF: a checkpoint run by this commit
        would then copy pages into the database file without syncing them.)
        """
        if self._write_lock is None:
            async with self._direct_transaction() as conn:
                yield conn
            return
        async with self._write_lock:
            async with self._sqlite_writer() as driver, self._sqlite_direct(driver, flush) as conn:
                yield conn

    @asynccontextmanager
    async def direct(self) -> AsyncIterator[DirectConnection]:
        """Statements straight to the driver, each a transaction of its own (autocommit): for
        reads that need no snapshot across them, and single statements that write all or nothing."""
        async with self._driver() as driver:
            yield DirectConnection(driver, "sqlite" if self.is_sqlite else "postgresql")

    @asynccontextmanager
    async def _direct_transaction(self) -> AsyncIterator[DirectConnection]:
        """PostgreSQL (SQLite's are in write_direct, under the write lock)."""
        async with self._driver() as driver:
            transaction = driver.transaction()
            await transaction.start()
            try:
                yield DirectConnection(driver, "postgresql")
            except BaseException:
                await transaction.rollback()
                raise
            await transaction.commit()

    @asynccontextmanager
    async def _driver(self) -> AsyncIterator[Any]:
        """The driver's own connection, from SQLAlchemy's pool; an unreachable database (while
        connecting or during the block) becomes StoreUnavailable."""
        try:
            async with self.engine.connect() as sa_conn:
                yield (await sa_conn.get_raw_connection()).driver_connection
        except Exception as exc:
            if _unavailable(exc):
                raise StoreUnavailable(f"database unavailable: {exc.__class__.__name__}") from exc
            raise

    @asynccontextmanager
    async def _sqlite_writer(self) -> AsyncIterator[Any]:
        """The kept write connection's driver (the caller holds `_write_lock`). Errors map as in
        `_driver`; after one that says the database is unavailable, the connection is dropped
        and the next transaction opens a fresh one."""
        try:
            if self._writer is None:
                self._writer = await self.engine.connect()
            yield (await self._writer.get_raw_connection()).driver_connection
        except Exception as exc:
            if _unavailable(exc):
                await self._drop_writer()
                raise StoreUnavailable(f"database unavailable: {exc.__class__.__name__}") from exc
            raise

    async def _drop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                await writer.close()

    @staticmethod
    @asynccontextmanager
    async def _sqlite_direct(driver: Any, flush: bool = True) -> AsyncIterator[DirectConnection]:
        # BEGIN, the statements and COMMIT run on this thread (store/direct.py).
        raw = driver._conn
        if not flush:  # this transaction only; SQLite takes the setting only between transactions
            raw.execute("PRAGMA synchronous=NORMAL")
        try:
            await _begin_immediate(raw)
            try:
                yield DirectConnection(driver, "sqlite", inline=True)
                raw.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.OperationalError):  # a failed COMMIT may have ended it
                    raw.execute("ROLLBACK")
                raise
        finally:
            if not flush:
                raw.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self._transaction(write=False) as conn:
            yield conn

    @asynccontextmanager
    async def _transaction(self, write: bool) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.engine.connect() as conn:
                if write:
                    conn = await conn.execution_options(**{_WRITE: True})
                async with conn.begin():
                    yield conn
        except (OperationalError, DBAPIError, OSError) as exc:
            if isinstance(exc, DBAPIError) and not _is_connectivity_error(exc):
                raise
            raise StoreUnavailable(f"database unavailable: {exc.__class__.__name__}") from exc

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def dispose(self) -> None:
        await self._drop_writer()
        await self.engine.dispose()


async def _begin_immediate(raw: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE on the event loop's thread. While another process (`vigil api` beside
    `vigil worker`) holds the write lock, try again after pauses of 0.1-0.5 ms on the event
    loop, which serves requests meanwhile; after BUSY_TIMEOUT_MS the error stands.

    SQLite's own busy handler, which waited here before (in aiosqlite's thread), sleeps 1, 2,
    5, 10, 15 … ms between tries: a process that found the lock taken lost milliseconds to a
    lock held for a fraction of one, and an API beside a worker process idled at 65-70 % of a
    core (docs/decisions.md, "Waiting for SQLite's write lock on the event loop").
    """
    raw.execute("PRAGMA busy_timeout=0")
    try:
        pause = LOCK_PAUSE_MIN_S
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                # The extended code (SQLITE_BUSY_RECOVERY, …) carries the primary one in its low byte.
                if getattr(exc, "sqlite_errorcode", sqlite3.SQLITE_BUSY) & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
                if time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, LOCK_PAUSE_MAX_S)
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def _unavailable(exc: Exception) -> bool:
    """Does `exc`, raised while connecting (SQLAlchemy's errors) or during a block (the
    driver's own), say that the database cannot be reached or is locked?"""
    if isinstance(exc, DBAPIError):  # OperationalError included
        return _is_connectivity_error(exc)
    return is_unavailable(exc)


def _is_connectivity_error(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    text = str(exc.orig).lower()
    return any(word in text for word in ("connection", "database is locked", "could not connect"))


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Let us issue BEGIN ourselves (pysqlite's implicit transactions would defer it).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # busy_timeout first: setting journal_mode waits for a lock when another process writes.
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")  # durable at every commit
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")
