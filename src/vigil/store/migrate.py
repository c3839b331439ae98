"""Run Alembic migrations from inside Vigil, and tell whether the database is current."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from vigil.store.db import async_url

_MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same in every Vigil process.
_PG_MIGRATION_LOCK = 7_242_001


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    """The newest revision of each branch (one, except while parallel work awaits a merge).
    Read once per process: what this process's code expects, whatever lands on disk later."""
    return frozenset(ScriptDirectory.from_config(_config()).get_heads())


def _upgrade(sync_conn: sa.Connection) -> None:
    config = _config()
    config.attributes["connection"] = sync_conn
    command.upgrade(config, "heads")


async def upgrade(url: str) -> None:
    """Bring the database to the newest revision; safe when several processes start at once."""
    url = async_url(url)
    with _sqlite_file_lock(url):
        await _upgrade_locked(url)


async def _upgrade_locked(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(sa.text(f"SELECT pg_advisory_lock({_PG_MIGRATION_LOCK})"))
                await conn.commit()
            try:
                await conn.run_sync(_upgrade)
                await conn.commit()
            finally:
                if conn.dialect.name == "postgresql":
                    await conn.execute(sa.text(f"SELECT pg_advisory_unlock({_PG_MIGRATION_LOCK})"))
                    await conn.commit()
    finally:
        await engine.dispose()


def current_revisions(sync_conn: sa.Connection) -> set[str]:
    return set(MigrationContext.configure(sync_conn).get_current_heads())


@contextmanager
def _sqlite_file_lock(url: str) -> Iterator[None]:
    """Processes migrating one SQLite file take turns on a lock file beside it
    (PostgreSQL uses an advisory lock instead)."""
    path = url.split(":///", 1)[1].split("?", 1)[0] if url.startswith("sqlite") else ""
    if not path or path == ":memory:":
        yield
        return
    database = Path(path).expanduser().resolve()
    database.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(f"{database}.migrate-lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
