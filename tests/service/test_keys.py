"""Key look-ups: concurrent requests with one key share a single query, and a revoked key stops
working once the cached answer runs out."""

from __future__ import annotations

import asyncio

from sqlalchemy import event

from tests.helpers import run_sync
from vigil.service import keys
from vigil.store import migrate
from vigil.store.db import Database


def _count_key_queries(db: Database) -> list[str]:
    """Every statement that reads api_keys, as the engine sends it to the driver."""
    seen: list[str] = []

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _seen(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "FROM api_keys" in statement:
            seen.append(statement)

    return seen


def test_concurrent_requests_share_one_look_up_and_revocation_still_applies(fresh_backend):
    url = fresh_backend.database_url
    run_sync(migrate.upgrade(url))

    async def go() -> None:
        db = Database(url)
        try:
            key, record = await keys.create(db, "acme", ["data:write"], "ingest")
            queries = _count_key_queries(db)
            auth = keys.Authenticator(db, ttl_s=0)

            # 64 requests in flight when the cache is cold: one query, one answer for all.
            found = await asyncio.gather(*(auth.principal(key) for _ in range(64)))
            assert len(queries) == 1
            assert {p.key_id for p in found if p is not None} == {record.id}
            assert all(p is not None and p.scopes == frozenset({"data:write"}) for p in found)

            # A waiter that goes away does not cancel the look-up the others share.
            first = asyncio.ensure_future(auth.principal(key))
            second = asyncio.ensure_future(auth.principal(key))
            await asyncio.sleep(0)
            first.cancel()
            assert (await second).key_id == record.id
            assert first.cancelled()
            assert len(queries) == 2

            # With a TTL of 0 nothing is trusted after its look-up: a revoked key fails at once.
            await keys.revoke(db, record.id)
            assert await auth.principal(key) is None
            assert await auth.principal("sk_" + "x" * 40) is None
            assert len(queries) == 4
        finally:
            await db.dispose()

    run_sync(go())


def test_a_cached_answer_is_trusted_for_its_ttl(fresh_backend):
    url = fresh_backend.database_url
    run_sync(migrate.upgrade(url))

    async def go() -> None:
        db = Database(url)
        try:
            key, record = await keys.create(db, "acme")
            queries = _count_key_queries(db)
            auth = keys.Authenticator(db, ttl_s=60)
            assert (await auth.principal(key)).key_id == record.id
            await keys.revoke(db, record.id)
            # Within the TTL the revoked key is still trusted (the documented revocation delay).
            assert (await auth.principal(key)).key_id == record.id
            assert len(queries) == 1
        finally:
            await db.dispose()

    run_sync(go())
