"""Migrations create exactly the tables of store/schema.py, on both databases."""

from __future__ import annotations

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
