"""PostgreSQL plans of the worker's statements stay index look-ups whatever the statistics say.

A generic plan is cached after a few executions, from the statistics of that moment; a queue
table is nearly empty most of the time. Planned then, the claim scanned and sorted all of
`jobs` and the finish's request count scanned all of `requests` at every batch (claims
1.5 ms instead of 0.6 ms at saturation, the request count 1.0 ms instead of 0.15 ms). Here
every plan is generic and made on empty tables, the worst case, through Vigil's own
connections (store.db.PG_SESSION_SETTINGS)."""

from __future__ import annotations

from tests.helpers import run_sync
from vigil.store import evaluations, queue, requests
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
        db = Database(postgres_url)
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
    assert "ix_jobs_due" in plans["claim"], plans["claim"]
    assert "Seq Scan" not in plans["count"], plans["count"]
    assert "requests_pkey" in plans["count"], plans["count"]
    assert "JIT" not in plans["depth"], plans["depth"]
    # The import runner's claim walks import jobs only, not every due evaluation.
    assert "ix_jobs_import_due" in plans["imports"], plans["imports"]
