"""Transactions on the driver's own connection, for the hot paths (ingest flushes, worker batches).

SQLAlchemy's async layer costs about 0.25-0.35 ms of CPU per statement on this machine (greenlet
hop, adapted cursor, execution context) against about 0.03 ms for the same statement sent to
aiosqlite or asyncpg directly (docs/decisions.md, "Hot statements bypass SQLAlchemy's async
layer"). An ingest flush runs about eight statements, so that layer was the largest single cost
of a single-object POST.

`DirectConnection` accepts the statements the hot paths send to an `AsyncConnection` —
`sa.text(...)` with named parameters (one dict, or a list of dicts for executemany) and
`exec_driver_sql` with positional rows on SQLite — so one store function serves both. The
connection still comes from SQLAlchemy's pool; only the statements skip its layers.
"""

from __future__ import annotations

import re
import sqlite3
from collections import namedtuple
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

import asyncpg
import sqlalchemy as sa

# The bind-parameter syntax of sa.text(): ':name', not part of a '::type' cast.
_PARAM = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


@lru_cache(maxsize=2048)
def sql(text: str) -> sa.TextClause:
    """`sa.text(text)`, made once: building one parses the text for parameters at every call."""
    return sa.text(text)


class _Dialect:
    def __init__(self, name: str) -> None:
        self.name = name


@lru_cache(maxsize=1024)
def _to_numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """':a … :b … :a' → ('$1 … $2 … $1', ('a', 'b')) for asyncpg."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PARAM.sub(number, sql), tuple(names)


@lru_cache(maxsize=256)
def _row_type(names: tuple[str, ...]) -> type:
    return namedtuple("Row", names, rename=True)  # type: ignore[misc]


class Result:
    """The part of SQLAlchemy's Result the hot paths use."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return self._rows

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None


def _returns_rows(sql: str) -> bool:
    head = sql.lstrip()[:7].upper()
    return head.startswith(("SELECT", "WITH")) or "RETURNING" in sql.upper()


class DirectConnection:
    """Statements on an asyncpg or aiosqlite connection (transactions begun and ended by Database).

    SQLite write transactions (`inline=True`) run their statements on the event loop's own
    thread, not aiosqlite's: each trip to that thread needs the GIL back from a busy event loop
    (up to the 5 ms switch interval), and executemany gives the GIL up at every row. Measured
    side by side: `vigil serve` took ≈ 22 % more single-object POSTs a second and ≈ 22 % more
    objects in batches of 1,000 (docs/decisions.md, "SQLite write transactions run on the event
    loop's thread").
    The statements are SQLite's C code working on pages in memory, for microseconds per row;
    BEGIN IMMEDIATE too; while another process holds the write lock it is tried again after
    short pauses on the event loop (store/db.py: _begin_immediate).
    """

    def __init__(self, driver: Any, dialect: str, inline: bool = False) -> None:
        self._driver = driver
        self.dialect = _Dialect(dialect)
        self._pg = dialect == "postgresql"
        self._inline = inline and not self._pg

    async def execute(self, statement: Any, parameters: Any = None) -> Result:
        if not isinstance(statement, sa.TextClause):
            raise TypeError("a DirectConnection runs sa.text() statements only")
        sql = statement.text
        if isinstance(parameters, list):
            await self._executemany(sql, parameters)
            return Result([], len(parameters))
        return await self._execute(sql, parameters or {})

    async def scalar(self, statement: Any, parameters: Any = None) -> Any:
        return (await self.execute(statement, parameters)).scalar()

    async def exec_driver_sql(self, sql: str, rows: Sequence[tuple]) -> None:
        """Positional rows, driver syntax (SQLite's '?'); executemany."""
        if self._pg:
            raise TypeError("exec_driver_sql is for SQLite's positional statements")
        await self._sqlite_many(sql, list(rows))

    async def _execute(self, sql: str, params: dict[str, Any]) -> Result:
        if self._pg:
            numbered, names = _to_numbered(sql)
            args = [params[name] for name in names]
            if _returns_rows(sql):
                records = await self._driver.fetch(numbered, *args)
                if not records:
                    return Result([], 0)
                row = _row_type(tuple(records[0].keys()))
                return Result([row._make(r.values()) for r in records], len(records))
            status = await self._driver.execute(numbered, *args)
            tail = status.rsplit(" ", 1)[-1]
            return Result([], int(tail) if tail.isdigit() else -1)
        if self._inline:
            return _sqlite_run(self._driver._conn, sql, params)
        return await self._driver._execute(_sqlite_run, self._driver._conn, sql, params)

    async def _executemany(self, sql: str, params: list[dict[str, Any]]) -> None:
        if not params:
            return
        if self._pg:
            numbered, names = _to_numbered(sql)
            await self._driver.executemany(numbered, [[p[name] for name in names] for p in params])
        else:
            await self._sqlite_many(sql, params)

    async def _sqlite_many(self, sql: str, rows: Any) -> None:
        if self._inline:
            self._driver._conn.executemany(sql, rows)
        else:
            await self._driver.executemany(sql, rows)


def _sqlite_run(conn: sqlite3.Connection, sql: str, params: dict[str, Any]) -> Result:
    """One statement, with its rows and row count (on the loop's thread, or in aiosqlite's)."""
    cursor = conn.execute(sql, params)
    try:
        if cursor.description is None:
            return Result([], cursor.rowcount)
        row = _row_type(tuple(d[0] for d in cursor.description))
        rows = [row._make(r) for r in cursor.fetchall()]
        return Result(rows, len(rows))
    finally:
        cursor.close()


# Errors of the drivers that mean "the database is not reachable now" (answered 503, retried).
CONNECTIVITY_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)


def is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, CONNECTIVITY_ERRORS):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return "locked" in text or "unable to open" in text
    return isinstance(exc, asyncpg.exceptions.AdminShutdownError)
