"""Delivery outcomes on endpoints and messages: sustained failure disables, retention prunes."""

from __future__ import annotations

from tests.helpers import run_sync
from vigil.delivery.send import Outcome
from vigil.ids import new_id
from vigil.service import webhook_outcomes, webhooks
from vigil.store import keys, migrate, webhook_endpoints, webhook_messages
from vigil.store.clock import now_ms
from vigil.store.db import Database
from vigil.worker.deliveries import Finished


async def _setup(db: Database) -> tuple[str, str]:
    team = new_id("team")
    async with db.write() as conn:
        await keys.insert_team(conn, team, team, 0)
    endpoint = await webhooks.create(db, team, {"url": "http://127.0.0.1:9/hooks"})
    return team, endpoint["id"]


def _message(team: str, endpoint_id: str, object_id: str) -> webhook_messages.NewMessage:
    return webhook_messages.NewMessage(
        new_id("msg"), team, endpoint_id, "workflow.succeeded", "ns", object_id, 1, '{"type": "workflow.succeeded"}'
    )


def test_failing_longer_than_the_limit_disables_the_endpoint_and_fails_its_messages(fresh_backend):
    run_sync(migrate.upgrade(fresh_backend.database_url))

    async def go() -> tuple[webhook_endpoints.Endpoint, list[str]]:
        db = Database(fresh_backend.database_url)
        try:
            team, endpoint_id = await _setup(db)
            now = now_ms()
            async with db.write() as conn:
                await webhook_messages.insert_many(conn, [_message(team, endpoint_id, f"o{i}") for i in range(3)], now)
                claimed = await webhook_messages.claim(conn, "tok", 10, now, 60_000, endpoint_id)
            refused = Outcome(None, 3, "connection failed: refused", "")
            policy = webhook_outcomes.Policy(schedule=(0.0, 60.0), disable_after_ms=0)
            await webhook_outcomes.record(db, policy, [Finished(claimed[0], "tok", now, refused)])
            async with db.read() as conn:
                endpoint = await webhook_endpoints.get(conn, team, endpoint_id)
                rows = await conn.exec_driver_sql("SELECT status FROM webhook_messages ORDER BY seq")
                statuses = [row[0] for row in rows]
            return endpoint, statuses
        finally:
            await db.dispose()

    endpoint, statuses = run_sync(go())
    assert endpoint is not None and endpoint.enabled is False
    assert endpoint.disabled_reason == "no successful delivery for 0 s"
    assert statuses == ["failed", "failed", "failed"]


def test_retry_schedule_then_failed(fresh_backend):
    run_sync(migrate.upgrade(fresh_backend.database_url))

    async def go() -> list[tuple[str, int]]:
        db = Database(fresh_backend.database_url)
        try:
            team, endpoint_id = await _setup(db)
            policy = webhook_outcomes.Policy(schedule=(0.0, 0.0), disable_after_ms=10**12)
            now = now_ms()
            async with db.write() as conn:
                await webhook_messages.insert_many(conn, [_message(team, endpoint_id, "o")], now)
            seen = []
            for attempt in range(2):
                async with db.write() as conn:
                    (claimed,) = await webhook_messages.claim(
                        conn, f"t{attempt}", 10, now_ms() + 5, 60_000, endpoint_id
                    )
                await webhook_outcomes.record(
                    db, policy, [Finished(claimed, f"t{attempt}", now_ms(), Outcome(503, 2, "HTTP 503", ""))]
                )
                async with db.read() as conn:
                    row = (await conn.exec_driver_sql("SELECT status, attempts FROM webhook_messages")).one()
                seen.append((row[0], row[1]))
            return seen
        finally:
            await db.dispose()

    assert run_sync(go()) == [("pending", 1), ("failed", 2)]


def test_prune_forgets_finished_messages_older_than_retention_and_keeps_pending(fresh_backend):
    run_sync(migrate.upgrade(fresh_backend.database_url))

    async def go() -> tuple[int, list[str]]:
        db = Database(fresh_backend.database_url)
        try:
            team, endpoint_id = await _setup(db)
            async with db.write() as conn:
                old = [_message(team, endpoint_id, f"old{i}") for i in range(3)]
                await webhook_messages.insert_many(conn, old, now_ms=1_000)
                await conn.exec_driver_sql("UPDATE webhook_messages SET status = 'delivered' WHERE object_id <> 'old2'")
                await webhook_messages.insert_many(conn, [_message(team, endpoint_id, "new")], now_ms=now_ms())
                await conn.exec_driver_sql("UPDATE webhook_messages SET status = 'delivered' WHERE object_id = 'new'")
            async with db.write() as conn:
                pruned = await webhook_messages.prune(conn, before_ms=now_ms() - 1000)
            async with db.read() as conn:
                rows = await conn.exec_driver_sql("SELECT object_id FROM webhook_messages ORDER BY object_id")
                return pruned, [row[0] for row in rows]
        finally:
            await db.dispose()

    pruned, left = run_sync(go())
    assert pruned == 2
    assert left == ["new", "old2"]  # recent ones, and the old one still pending
