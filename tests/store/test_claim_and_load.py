"""PostgreSQL's one-statement claim (store/evaluations.claim_and_load): the same jobs, lease,
request marks and inputs as queue.claim + requests.mark_ingesting + evaluations.load."""

from __future__ import annotations

import json

from tests.helpers import query, run_sync
from vigil.service import ingest
from vigil.store import evaluations, keys, queue
from vigil.store.db import Database


def test_claim_and_load_claims_marks_and_reads_in_one_statement(postgres_url):
    async def go() -> tuple[list[queue.Job], dict[int, evaluations.Inputs], list[queue.Job]]:
        db = Database(postgres_url)
        try:
            async with db.write() as conn:
                await keys.insert_team(conn, "team", "team", 0)
            two = [("a", {"id": "a", "n": 1}), ("a", {"id": "a", "n": 2})]  # two versions of one object
            await ingest.write_submissions(
                db,
                [
                    ingest.Submission("team", "ns", "req_two", [(i, o, json.dumps(o)) for i, o in two]),
                    ingest.Submission("team", "ns", "req_one", [("b", {"id": "b"}, '{"id": "b"}')]),
                ],
            )
            async with db.write() as conn:  # a job whose version is not there
                await queue.enqueue(conn, [queue.NewJob(queue.EVALUATE, "team", "ns", "gone", 1, None)], 1)
            async with db.direct() as conn:
                jobs, inputs = await evaluations.claim_and_load(conn, "tok", 10, now_ms=10**13, lease_ms=5_000)
            async with db.direct() as conn:
                again, _ = await evaluations.claim_and_load(conn, "tok2", 10, now_ms=10**13 + 1, lease_ms=5_000)
            return jobs, inputs, again
        finally:
            await db.dispose()

    jobs, inputs, again = run_sync(go())
    assert [(j.object_id, j.version, j.request_id, j.attempts, j.later) for j in jobs] == [
        ("a", 1, "req_two", 1, True),
        ("b", 1, "req_one", 1, False),
        ("gone", 1, None, 1, False),
    ]
    assert again == []  # version 2 of `a` waits for version 1; the rest is leased
    by_object = {j.object_id: inputs.get(j.id) for j in jobs}
    assert by_object["a"].data == {"id": "a", "n": 1} and by_object["a"].previous is None
    assert by_object["b"].data == {"id": "b"} and by_object["b"].settings == {}
    assert by_object["gone"] is None
    # The lease has a column of its own; a claim leaves run_after_ms (indexed) as it was.
    leases = query(postgres_url, "SELECT object_id, lock_token, lease_until_ms, run_after_ms FROM jobs ORDER BY id")
    assert [tuple(r) for r in leases] == [
        ("a", "tok", 10**13 + 5_000, leases[0].run_after_ms),
        ("a", None, None, leases[0].run_after_ms),
        ("b", "tok", 10**13 + 5_000, leases[0].run_after_ms),
        ("gone", "tok", 10**13 + 5_000, 1),
    ]
    assert leases[0].run_after_ms < 10**13
    # req_one sent one object: it has no row (store/requests.py: single_object).
    statuses = query(postgres_url, "SELECT id, status FROM requests ORDER BY id")
    assert [tuple(r) for r in statuses] == [("req_two", "ingesting")]
