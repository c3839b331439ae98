"""Migrations create exactly the tables of store/schema.py, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.helpers import run_sync
from vigil.store import migrate
from vigil.store.db import async_url
from vigil.store.schema import metadata


def diff_against_schema(url: str) -> list:
    async def go() -> list:
        engine = create_async_engine(async_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                    )
                )
        finally:
            await engine.dispose()

    return run_sync(go())


def test_upgrade_head_matches_schema_metadata(fresh_backend):
    run_sync(migrate.upgrade(fresh_backend.database_url))
    assert diff_against_schema(fresh_backend.database_url) == []


def test_upgrade_twice_is_harmless_and_revision_is_head(fresh_backend):
    run_sync(migrate.upgrade(fresh_backend.database_url))
    run_sync(migrate.upgrade(fresh_backend.database_url))

    async def revision() -> set[str]:
        engine = create_async_engine(async_url(fresh_backend.database_url), poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(migrate.current_revisions)
        finally:
            await engine.dispose()

    assert run_sync(revision()) == migrate.head_revisions()


def _migrate_to(url: str, revision: str, down: bool = False) -> None:
    async def go() -> None:
        engine = create_async_engine(async_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as conn:

                def run(sync: sa.Connection) -> None:
                    config = migrate._config()
                    config.attributes["connection"] = sync
                    (command.downgrade if down else command.upgrade)(config, revision)

                await conn.run_sync(run)
                await conn.commit()
        finally:
            await engine.dispose()

    run_sync(go())


def _jobs(url: str) -> list[tuple]:
    async def go() -> list[tuple]:
        engine = create_async_engine(async_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(sa.text("SELECT * FROM jobs ORDER BY id"))
                return [tuple(sorted(row._mapping.items())) for row in rows]
        finally:
            await engine.dispose()

    return run_sync(go())


def test_0007_moves_the_leases_of_claimed_jobs_to_their_column_and_back(fresh_backend):
    url = fresh_backend.database_url
    _migrate_to(url, "0006")

    async def insert() -> None:
        engine = create_async_engine(async_url(url), poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    sa.text(
                        "INSERT INTO jobs (kind, team_id, namespace, object_id, version, run_after_ms, lock_token, "
                        "attempts, created_at_ms) VALUES ('evaluate', 't', 'ns', 'claimed', 1, 50000, 'tok', 1, 1), "
                        "('evaluate', 't', 'ns', 'waiting', 1, 1000, NULL, 0, 1)"
                    )
                )
        finally:
            await engine.dispose()

    run_sync(insert())
    _migrate_to(url, "heads")
    after = [dict(row) for row in _jobs(url)]
    assert [(j["object_id"], j["lock_token"], j["lease_until_ms"], j["run_after_ms"]) for j in after] == [
        ("claimed", "tok", 50000, 50000),
        ("waiting", None, None, 1000),
    ]
    _migrate_to(url, "0006", down=True)
    before = [dict(row) for row in _jobs(url)]
    assert "lease_until_ms" not in before[0]
    assert [(j["object_id"], j["lock_token"], j["run_after_ms"]) for j in before] == [
        ("claimed", "tok", 50000),
        ("waiting", None, 1000),
    ]
    _migrate_to(url, "heads")
    assert diff_against_schema(url) == []
