"""The worker's use case: a job that never finishes is given up on, and its object still
reaches a terminal state (a failed decision, counted in the request's error summary)."""

from __future__ import annotations

import asyncio
import json

import pytest
from prometheus_client import REGISTRY

from tests.helpers import run_sync
from vigil.ids import new_id
from vigil.service import evaluation, ingest, policies, status, webhooks
from vigil.store import jsondoc, keys, migrate, queue, requests
from vigil.store.clock import now_ms
from vigil.store.db import Database
from vigil.store.direct import sql

LIMITS = ingest.Limits(max_objects=1000, max_object_bytes=1 << 20)


async def new_team(db: Database) -> str:
    team = new_id("team")
    async with db.write() as conn:
        await keys.insert_team(conn, team, team, 0)
    return team


def batch_jobs(part: str) -> float:
    return REGISTRY.get_sample_value(f"vigil_worker_batch_jobs_{part}") or 0.0


def test_job_claimed_past_max_attempts_becomes_a_failed_decision(fresh_backend):
    url = fresh_backend.database_url
    run_sync(migrate.upgrade(url))

    async def go() -> tuple[list[dict], requests.RequestRecord]:
        db = Database(url)
        try:
            team = await new_team(db)
            poison = {"id": "poison"}
            first = ingest.Submission(team, "products", new_id("req"), [("poison", poison, json.dumps(poison))])
            await ingest.write_submissions(db, [first])
            # A worker claims the poison job three times and dies each time (1 ms leases, long past).
            start = now_ms()
            for attempt in range(3):
                async with db.write() as conn:
                    claimed = await queue.claim(
                        conn, queue.EVALUATE, f"dead{attempt}", 10, now_ms=start + 2 * attempt, lease_ms=1
                    )
                assert [j.object_id for j in claimed] == ["poison"]
            fine = {"id": "fine"}
            second = ingest.Submission(team, "products", new_id("req"), [("fine", fine, json.dumps(fine))])
            await ingest.write_submissions(db, [second])
            policy = evaluation.Policy(batch_size=10, lease_ms=30_000, max_attempts=2)
            while now_ms() <= start + 5:  # the last lease (start + 4, 1 ms) has run out
                await asyncio.sleep(0.002)
            assert (await evaluation.run_once(db, policy)).claimed == 2
            assert (await evaluation.run_once(db, policy)).claimed == 0
            answers = [
                json.loads(await status.request_status(db, team, "products", s.request_id, "http://x", 5 << 20))
                for s in (first, second)
            ]
            async with db.read() as conn:
                record = await requests.get(conn, team, "products", first.request_id)
            return answers, record
        finally:
            await db.dispose()

    (poisoned, healthy), record = run_sync(go())
    assert poisoned["status"] == "succeeded"
    assert (record.pending, record.failed, record.total) == (0, 1, 1)
    assert poisoned["data"][0]["output"] is None
    assert poisoned["error_summary"].startswith("1 of 1 objects failed evaluation: poison: gave up after 2 attempts")
    assert healthy["status"] == "succeeded" and healthy["error_summary"] is None
    assert healthy["data"][0]["output"] == {"labels": [], "actions": [], "fields": {}}


def test_a_batch_counts_the_webhook_messages_it_wrote(fresh_backend):
    """The worker wakes its webhook dispatcher only after a batch that wrote messages
    (worker/loop.py): a team without endpoints writes none, one with an endpoint one per event."""
    url = fresh_backend.database_url
    run_sync(migrate.upgrade(url))

    async def go() -> tuple[evaluation.Batch, evaluation.Batch, int]:
        db = Database(url)
        try:
            team = await new_team(db)
            policy = evaluation.Policy(batch_size=10, lease_ms=30_000, max_attempts=2)

            async def one_batch(object_id: str) -> evaluation.Batch:
                obj = {"id": object_id}
                submission = ingest.Submission(team, "products", new_id("req"), [(object_id, obj, json.dumps(obj))])
                await ingest.write_submissions(db, [submission])
                return await evaluation.run_once(db, policy)

            silent = await one_batch("before")
            await webhooks.create(db, team, {"url": "http://127.0.0.1:9/hooks"})
            announced = await one_batch("after")
            async with db.read() as conn:
                rows = await conn.execute(
                    sql("SELECT event_type FROM webhook_messages WHERE team_id = :team ORDER BY event_type"),
                    {"team": team},
                )
                stored = [row.event_type for row in rows]
            return silent, announced, stored
        finally:
            await db.dispose()

    silent, announced, stored = run_sync(go())
    assert (silent.claimed, silent.messages) == (1, 0)
    # The object's decision, and the completion of its call (one object: a call without a row).
    assert stored == ["request.completed", "workflow.succeeded"]
    assert (announced.claimed, announced.messages) == (1, 2)


def test_a_call_of_one_object_is_told_by_its_version_and_decision(fresh_backend):
    """A call of one object writes no `requests` row (an insert, a lock and an update per
    object); its status comes from its version and that version's decision. A call of several
    objects keeps its row."""
    url = fresh_backend.database_url
    run_sync(migrate.upgrade(url))

    async def go() -> dict[str, object]:
        db = Database(url)
        seen: dict[str, object] = {}
        try:
            team = await new_team(db)
            one = ingest.prepare(team, "products", b'{"data": {"id": "solo"}}', LIMITS)
            two = ingest.prepare(team, "products", b'{"data": [{"id": "a"}, {"id": "b"}]}', LIMITS)
            await ingest.write_submissions(db, [one, two])
            async with db.read() as conn:
                rows = await conn.execute(sql("SELECT id, total FROM requests WHERE team_id = :t"), {"t": team})
                seen["rows"] = sorted((row.id, row.total) for row in rows)
                seen["queued"] = await requests.get(conn, team, "products", one.request_id)
                seen["elsewhere"] = await requests.get(conn, team, "other", one.request_id)
            policy = evaluation.Policy(batch_size=10, lease_ms=30_000, max_attempts=2)
            assert (await evaluation.run_once(db, policy)).claimed == 3
            async with db.read() as conn:
                seen["done"] = await requests.get(conn, team, "products", one.request_id)
                seen["unknown"] = await requests.get(conn, team, "products", new_id("req"))
            seen["answer"] = json.loads(
                await status.request_status(db, team, "products", one.request_id, "http://x", 5 << 20)
            )
            seen["ids"] = (one.request_id, two.request_id)
            return seen
        finally:
            await db.dispose()

    seen = run_sync(go())
    one_id, two_id = seen["ids"]
    assert seen["rows"] == [(two_id, 2)]
    queued = seen["queued"]
    assert (queued.id, queued.kind, queued.status, queued.total, queued.pending, queued.failed) == (
        one_id, "add", "queued", 1, 1, 0,
    )  # fmt: skip
    assert seen["elsewhere"] is None and seen["unknown"] is None
    done = seen["done"]
    assert (done.status, done.total, done.pending, done.failed) == ("succeeded", 1, 0, 0)
    assert done.created_at_ms == queued.created_at_ms > 0
    answer = seen["answer"]
    assert answer["status"] == "succeeded" and answer["error_summary"] is None
    assert [item["id"] for item in answer["data"]] == ["solo"]


def test_a_call_of_several_objects_completes_once_over_several_batches(fresh_backend):
    """Only a request without a row is completed by its one decision: a call of two objects
    evaluated in two batches sends one request.completed, with both objects counted."""
    url = fresh_backend.database_url
    run_sync(migrate.upgrade(url))

    async def go() -> tuple[list[int], list[tuple[str, object]]]:
        db = Database(url)
        try:
            team = await new_team(db)
            await webhooks.create(db, team, {"url": "http://127.0.0.1:9/hooks"})
            two = ingest.prepare(team, "products", b'{"data": [{"id": "a"}, {"id": "b"}]}', LIMITS)
            await ingest.write_submissions(db, [two])
            policy = evaluation.Policy(batch_size=1, lease_ms=30_000, max_attempts=2)
            claimed = [(await evaluation.run_once(db, policy)).claimed for _ in range(3)]
            async with db.read() as conn:
                rows = await conn.execute(
                    sql("SELECT event_type, payload FROM webhook_messages WHERE team_id = :team ORDER BY seq"),
                    {"team": team},
                )
                events = [(row.event_type, jsondoc.load(row.payload)) for row in rows]
            return claimed, events
        finally:
            await db.dispose()

    claimed, events = run_sync(go())
    assert claimed == [1, 1, 0]
    assert [kind for kind, _ in events] == ["workflow.succeeded", "workflow.succeeded", "request.completed"]
    completed = events[-1][1]
    assert (completed["object_count"], completed["failed_count"], completed["status"]) == (2, 0, "succeeded")


def test_a_chained_finish_claims_the_next_batch_on_sqlite(fresh_backend):
    """`chain`: on SQLite a batch's finish transaction also claims the next batch (one write
    transaction a batch instead of two), the later version its finish released included; on
    PostgreSQL the claim stays a statement of its own and `more` says to claim again."""
    url = fresh_backend.database_url
    run_sync(migrate.upgrade(url))

    async def go() -> tuple[bool, list[evaluation.Batch], list[tuple[str, int]], int]:
        db = Database(url)
        try:
            team = await new_team(db)
            first = ingest.prepare(team, "products", b'{"data": [{"id": "a"}, {"id": "b"}, {"id": "c"}]}', LIMITS)
            again = ingest.prepare(team, "products", b'{"data": {"id": "a", "n": 2}}', LIMITS)
            await ingest.write_submissions(db, [first])
            await ingest.write_submissions(db, [again])
            policy = evaluation.Policy(batch_size=2, lease_ms=30_000, max_attempts=2)
            counted = (batch_jobs("count"), batch_jobs("sum"))
            batches, pending = [], None
            for _ in range(4):
                batch = await evaluation.run_once(db, policy, pending, chain=True)
                batches.append(batch)
                pending = batch.following
            async with db.read() as conn:
                rows = await conn.execute(
                    sql("SELECT object_id, version FROM decisions WHERE team_id = :t ORDER BY object_id, version"),
                    {"t": team},
                )
                decided = [(row.object_id, row.version) for row in rows]
                left = (await conn.execute(sql("SELECT count(*) AS n FROM jobs"))).scalar_one()
            # vigil_worker_batch_jobs: two batches of two jobs.
            assert (batch_jobs("count") - counted[0], batch_jobs("sum") - counted[1]) == (2, 4)
            return db.is_sqlite, batches, decided, left
        finally:
            await db.dispose()

    sqlite, batches, decided, left = run_sync(go())
    assert decided == [("a", 1), ("a", 2), ("b", 1), ("c", 1)]
    assert left == 0
    if sqlite:
        # a1 + b1, then c1 + a2 (a2 was held back behind a1 until a1's finish), then nothing.
        assert [b.claimed for b in batches] == [2, 2, 0, 0]
        assert [len(b.following.jobs) if b.following else 0 for b in batches] == [2, 0, 0, 0]
        assert not any(b.more for b in batches)
    else:
        assert all(b.following is None for b in batches)
        assert [b.claimed for b in batches] == [2, 2, 0, 0]
        assert batches[0].more and batches[1].more


def test_a_policy_is_read_in_the_claim_once_compiled(fresh_backend):
    """A SQLite claim reads the batch's policy versions in its own transaction, from the
    compiled cache; a version not compiled yet is compiled after it. Either way each object
    is judged by the policy current when it was claimed."""
    url = fresh_backend.database_url
    run_sync(migrate.upgrade(url))
    flagging = (
        b"detectors:\n  colour: {type: keyword, terms: [%s]}\n"
        b"rules:\n  - name: flag\n    when: detectors.colour.matched\n    labels: [{label: hit}]\n"
    )

    async def go() -> tuple[list[tuple[str, int | None, list]], dict[str, object]]:
        db = Database(url)
        try:
            team = await new_team(db)
            policy = evaluation.Policy(batch_size=10, lease_ms=30_000, max_attempts=2)
            seen: dict[str, object] = {}

            async def decide(object_id: str, title: str) -> None:
                body = json.dumps({"data": {"id": object_id, "title": title}}).encode()
                await ingest.write_submissions(db, [ingest.prepare(team, "products", body, LIMITS)])
                claim = await evaluation._claim(db, policy, chain=True)
                # What the claim read: a Prepared with the cached policy's version, or None
                # (not compiled yet, or PostgreSQL, which reads policies after its claim).
                loaded = claim.loaded
                seen[object_id] = None if loaded is None else loaded.policies[(team, "products")].policy.version
                assert (await evaluation.run_once(db, policy, claim, chain=True)).claimed == 1

            await policies.put(db, team, "products", flagging % b"red", "application/yaml")
            await decide("cold", "red mug")  # version 1 compiled after the claim
            await decide("warm", "red cup")  # version 1 from the cache, read in the claim
            await policies.put(db, team, "products", flagging % b"blue", "application/yaml")
            await decide("newer", "red bowl")  # version 2 seen by the claim's version check
            async with db.read() as conn:
                rows = await conn.execute(
                    sql("SELECT object_id, policy_version, output FROM decisions WHERE team_id = :t"),
                    {"t": team},
                )
                return [(r.object_id, r.policy_version, jsondoc.load(r.output)["labels"]) for r in rows], seen
        finally:
            await db.dispose()

    stored, seen = run_sync(go())
    decided = {object_id: (version, bool(labels)) for object_id, version, labels in stored}
    assert decided == {"cold": (1, True), "warm": (1, True), "newer": (2, False)}
    if fresh_backend.name == "sqlite":
        assert seen == {"cold": None, "warm": 1, "newer": None}
    else:
        assert seen == {"cold": None, "warm": None, "newer": None}


def test_a_chained_claim_that_fails_leaves_the_finish_committed(fresh_backend):
    """The next batch's claim runs under a savepoint in the finish: when it fails (here a
    stored version that no longer decodes), the batch's decisions still commit, the failed
    claim leaves no lease behind, and the loop is told to claim on its own."""
    if fresh_backend.name != "sqlite":
        pytest.skip("a chained claim is SQLite's (PostgreSQL claims in a statement of its own)")
    url = fresh_backend.database_url
    run_sync(migrate.upgrade(url))

    async def go() -> tuple[evaluation.Batch, list[str], list[tuple]]:
        db = Database(url)
        try:
            team = await new_team(db)
            for object_id in ("good", "broken"):
                body = json.dumps({"data": {"id": object_id}}).encode()
                await ingest.write_submissions(db, [ingest.prepare(team, "products", body, LIMITS)])
            async with db.write() as conn:
                await conn.execute(sql("UPDATE object_versions SET data = '{not json' WHERE object_id = 'broken'"))
            policy = evaluation.Policy(batch_size=1, lease_ms=30_000, max_attempts=2)
            batch = await evaluation.run_once(db, policy, chain=True)
            async with db.read() as conn:
                decided = [r.object_id for r in await conn.execute(sql("SELECT object_id FROM decisions"))]
                jobs = [
                    (r.object_id, r.lock_token, r.attempts)
                    for r in await conn.execute(sql("SELECT object_id, lock_token, attempts FROM jobs"))
                ]
            return batch, decided, jobs
        finally:
            await db.dispose()

    batch, decided, jobs = run_sync(go())
    assert decided == ["good"]
    assert jobs == [("broken", None, 0)]
    assert (batch.claimed, batch.more, batch.following) == (1, True, None)
