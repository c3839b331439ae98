"""PostgreSQL plans of the worker's statements stay index look-ups whatever the statistics say.

A generic plan is cached after a few executions, from the statistics of that moment; a queue
table is nearly empty most of the time. Planned then, the claim scanned and sorted all of
`jobs` and the finish's request count scanned all of `requests` at every batch (claims
1.5 ms instead of 0.6 ms at saturation, the request count 1.0 ms instead of 0.15 ms). Here
every plan is generic and made on empty tables, the worst case, through Vigil's own
connections (store.db.PG_SESSION_SETTINGS)."""

from __future__ import annotations

from tests.helpers import run_sync
from vigil.store import evaluations, lists, policies, queue, requests
from vigil.store.db import Database
from vigil.store.direct import _to_numbered


def _literal(value: object) -> str:
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "'{" + ",".join(str(v) for v in value) + "}'"
    return "'" + str(value).replace("'", "''") + "'"


async def _generic_plan(conn, name: str, statement: str, params: dict[str, object]) -> str:
    numbered, names = _to_numbered(statement)
    await conn.execute(f"PREPARE {name} AS {numbered}")
    args = ", ".join(_literal(params[n]) for n in names)
    rows = await conn.fetch(f"EXPLAIN EXECUTE {name}({args})")
    return "\n".join(row[0] for row in rows)


def test_claim_and_request_count_probe_indexes_on_empty_tables(postgres_url):
    async def go() -> dict[str, str]:
        db = Database(postgres_url, worker=True)
        try:
            async with db._driver() as conn:
                await conn.execute("SET plan_cache_mode = force_generic_plan")
                claim = await _generic_plan(
                    conn, "claim", evaluations._CLAIM_AND_LOAD,
                    {**queue.claim_params("tok", 100, 1_000, 30_000), **requests.MARK_INGESTING_PARAMS},
                )  # fmt: skip
                count = await _generic_plan(
                    conn,
                    "count",
                    requests.count_done_statement(pg=True),
                    {"now": 1, "ids": ["req_a", "req_b"], "ns": [1, 1], "fs": [0, 0]},
                )
                imports = await _generic_plan(
                    conn, "import_claim", queue.claim_statement(pg=True, kind=queue.IMPORT),
                    queue.claim_params("tok", 1, 1_000, 30_000),
                )  # fmt: skip
                # A statement that must scan now costs past jit_above_cost: no JIT for it.
                depth = "\n".join(
                    row[0] for row in await conn.fetch("EXPLAIN SELECT kind, count(*) FROM jobs GROUP BY kind")
                )
                return {"claim": claim, "count": count, "depth": depth, "imports": imports}
        finally:
            await db.dispose()

    plans = run_sync(go())
    assert "Seq Scan" not in plans["claim"], plans["claim"]
    # Walked in claim order and left at the batch: a bitmap scan read every due entry, and
    # every dead one left by finished jobs until vacuum, at each claim.
    assert "Index Scan using ix_jobs_due" in plans["claim"], plans["claim"]
    assert "Bitmap" not in plans["claim"], plans["claim"]
    assert "Seq Scan" not in plans["count"], plans["count"]
    assert "requests_pkey" in plans["count"], plans["count"]
    assert "JIT" not in plans["depth"], plans["depth"]
    # The import runner's claim walks import jobs only, not every due evaluation.
    assert "ix_jobs_import_due" in plans["imports"], plans["imports"]


def test_worker_sessions_run_generic_plans_without_bitmap_scans(postgres_url):
    """A worker's sessions add the two settings its claims need; the API's keep PostgreSQL's
    choice, which sees the team and filters of a listing."""

    async def settings(worker: bool) -> dict[str, str]:
        db = Database(postgres_url, worker=worker)
        try:
            async with db._driver() as conn:
                return {
                    name: await conn.fetchval(f"SHOW {name}")
                    for name in ("enable_seqscan", "enable_bitmapscan", "plan_cache_mode", "jit")
                }
        finally:
            await db.dispose()

    assert run_sync(settings(worker=True)) == {
        "enable_seqscan": "off",
        "enable_bitmapscan": "off",
        "plan_cache_mode": "force_generic_plan",
        "jit": "off",
    }
    assert run_sync(settings(worker=False)) == {
        "enable_seqscan": "off",
        "enable_bitmapscan": "on",
        "plan_cache_mode": "auto",
        "jit": "off",
    }


def test_pairs_of_keys_are_probed_not_walked(postgres_url):
    """Parents of a policy and lists by (team, name): each pair is an index probe. As an OR of
    pairs, without bitmap scans, PostgreSQL walked every object of the team."""

    async def go() -> list[str]:
        db = Database(postgres_url)
        plans: list[str] = []
        try:
            async with db._driver() as conn:
                plans.append(
                    await _generic_plan(
                        conn, "parents", policies.PARENTS_PG, {"team": "t", "ns": ["a", "b"], "ids": ["x", "y"]}
                    )
                )
                plans.append(
                    await _generic_plan(conn, "lists", lists.ITEMS_PG, {"teams": ["t", "u"], "names": ["a", "b"]})
                )
        finally:
            await db.dispose()
        return plans

    for plan in run_sync(go()):
        assert "Seq Scan" not in plan, plan
        probe = [line for line in plan.splitlines() if "Index Cond" in line]
        assert probe and ("namespace =" in probe[-1] or "name =" in probe[-1]), plan
