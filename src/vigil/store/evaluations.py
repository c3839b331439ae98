"""What an evaluation job needs, read in one query: the version, the one before it, and the
namespace settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.store import arrays, jsondoc, queue, requests
from vigil.store.direct import sql


@dataclass(frozen=True)
class Inputs:
    data: Any
    previous: Any  # None for version 1
    settings: dict[str, Any]
    created_at_ms: int


# The inputs of the jobs aliased `j`: the version (missing if deleted: then its columns are
# NULL and the job fails), the version before it and the namespace's settings.
_INPUT_COLUMNS = "v.data, v.created_at_ms AS version_created_at_ms, p.data AS previous, n.settings"
# For `load` (the worker's read on SQLite, which runs these as primary-key probes per job).
_JOINS = (
    "LEFT JOIN object_versions v ON v.team_id = j.team_id AND v.namespace = j.namespace "
    "AND v.object_id = j.object_id AND v.version = j.version "
    "LEFT JOIN object_versions p ON p.team_id = j.team_id AND p.namespace = j.namespace "
    "AND p.object_id = j.object_id AND p.version = j.version - 1 "
    "LEFT JOIN namespaces n ON n.team_id = j.team_id AND n.name = j.namespace"
)
# PostgreSQL: each a LATERAL look-up by primary key, so the plan is an index probe per job
# whatever the statistics say. LIMIT 1 keeps it from being flattened into a plain join, which
# was planned as a hash join over a sequential scan of object_versions while the statistics
# were those of a small table (each claim then read every stored version).
_PG_JOINS = (
    "LEFT JOIN LATERAL (SELECT data, created_at_ms FROM object_versions WHERE team_id = j.team_id "
    "AND namespace = j.namespace AND object_id = j.object_id AND version = j.version LIMIT 1) v ON true "
    "LEFT JOIN LATERAL (SELECT data FROM object_versions WHERE team_id = j.team_id AND namespace = j.namespace "
    "AND object_id = j.object_id AND version = j.version - 1 LIMIT 1) p ON true "
    "LEFT JOIN LATERAL (SELECT settings FROM namespaces WHERE team_id = j.team_id AND name = j.namespace "
    "LIMIT 1) n ON true"
)

# PostgreSQL: claim, mark the requests `ingesting` and read the inputs in one statement on its
# own (a statement is all or nothing; no BEGIN/COMMIT): one round trip where a claim
# transaction and a read took five, about 0.5 ms of the worker's CPU a batch. The claimed jobs
# are the CTE `c`; every sub-statement sees one snapshot, in which the versions the jobs point
# to were committed with them.
_CLAIM_AND_LOAD = (
    f"WITH c AS ({queue.claim_statement(pg=True, kind=queue.EVALUATE)}), "
    # Only if a claimed job belongs to a request of several items (one index probe per job,
    # LATERAL … LIMIT 1): the EXISTS is a one-time filter, so otherwise requests is not read.
    # The cached generic plan chose a sequential scan of requests (planned while it was
    # small), which every claim then paid with single-object requests: -10 % req/s.
    "m AS ("
    + requests.mark_ingesting_statement(
        "EXISTS (SELECT 1 FROM c, LATERAL (SELECT 1 FROM requests r WHERE r.id = c.request_id AND r.total > 1 "
        "LIMIT 1) several) AND id = ANY(ARRAY(SELECT request_id FROM c))"
    )
    + ") "
    f"SELECT j.*, {_INPUT_COLUMNS} FROM c j {_PG_JOINS}"
)


async def load(conn: AsyncConnection, job_ids: Sequence[int]) -> dict[int, Inputs]:
    if not job_ids:
        return {}
    rows = await conn.execute(
        sql(f"SELECT j.id, {_INPUT_COLUMNS} FROM jobs j {_JOINS} WHERE {arrays.any_of(conn, 'j.id', 'ids', 'bigint')}"),
        {"ids": arrays.values(conn, job_ids)},
    )
    return _inputs(rows)


async def claim_and_load(
    conn: Any, token: str, limit: int, now_ms: int, lease_ms: int
) -> tuple[list[queue.Job], dict[int, Inputs]]:
    """PostgreSQL only, outside a transaction: queue.claim of evaluation jobs, then
    requests.mark_ingesting and `load` for them, as one statement."""
    rows = list(
        await conn.execute(
            sql(_CLAIM_AND_LOAD),
            {
                **queue.claim_params(token, limit, now_ms, lease_ms),
                **requests.MARK_INGESTING_PARAMS,
            },
        )
    )
    return sorted((queue.job_of(row) for row in rows), key=lambda job: job.id), _inputs(rows)


def _inputs(rows: Any) -> dict[int, Inputs]:
    # A batch's jobs mostly share a namespace: its settings are decoded once (SQLite hands
    # back the same text on every row), and the objects share that one read-only dict.
    settings: dict[Any, dict[str, Any]] = {}

    def settings_of(value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, str | bytes):
            return value  # PostgreSQL: decoded already
        found = settings.get(value)
        if found is None:
            found = settings[value] = jsondoc.load(value)
        return found

    return {
        row.id: Inputs(
            jsondoc.load(row.data),
            None if row.previous is None else jsondoc.load(row.previous),
            settings_of(row.settings),
            row.version_created_at_ms,
        )
        for row in rows
        if row.version_created_at_ms is not None
    }
