"""The job queue, in the same database as the data.

A job is claimable when `run_after_ms` has passed and no lease holds it. Claiming sets
`lease_until_ms` one lease ahead and writes a fresh `lock_token`; finishing deletes the job
only if the token still matches. So a worker that dies leaves its jobs to come back when the
lease runs out, and a worker that comes back late finds its token gone and writes nothing (no
result twice). A claim changes no indexed column: on PostgreSQL it is then a HOT update, with
no new index entries (migration 0007).

PostgreSQL: claims take a batch with FOR UPDATE SKIP LOCKED (claiming one at a time measured
~1k jobs/s here, a hundred at a time ~25k/s). SQLite: the caller holds the single write lock,
so the same statement without SKIP LOCKED is already exclusive.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.store import arrays
from vigil.store.direct import sql

EVALUATE = "evaluate"
IMPORT = "import"  # the import runner's jobs: one per import, few beside the evaluations
KINDS = (EVALUATE, IMPORT)


@dataclass(frozen=True)
class NewJob:
    kind: str
    team_id: str
    namespace: str
    object_id: str
    version: int
    request_id: str | None


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    team_id: str
    namespace: str
    object_id: str
    version: int
    request_id: str | None
    attempts: int
    # A later version of this job's object was queued when it was claimed: it becomes
    # claimable only once this job is finished (one object's versions go in order). On SQLite
    # known only in a claim that took fewer than its limit (see claim).
    later: bool = False


async def enqueue(conn: AsyncConnection, jobs: Sequence[NewJob], now_ms: int) -> None:
    if not jobs:
        return
    if conn.dialect.name == "postgresql":
        await conn.execute(
            sql(
                "INSERT INTO jobs (kind, team_id, namespace, object_id, version, request_id, run_after_ms, "
                "attempts, created_at_ms) SELECT t.k, t.t, t.n, t.o, t.v, t.r, :now, 0, :now FROM "
                "unnest(CAST(:k AS text[]), CAST(:t AS text[]), CAST(:n AS text[]), CAST(:o AS text[]), "
                "CAST(:v AS int[]), CAST(:r AS text[])) AS t(k, t, n, o, v, r)"
            ),
            {
                "now": now_ms,
                "k": [j.kind for j in jobs],
                "t": [j.team_id for j in jobs],
                "n": [j.namespace for j in jobs],
                "o": [j.object_id for j in jobs],
                "v": [j.version for j in jobs],
                "r": [j.request_id for j in jobs],
            },
        )
        return
    await conn.exec_driver_sql(
        "INSERT INTO jobs (kind, team_id, namespace, object_id, version, request_id, run_after_ms, "
        "attempts, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
        [(j.kind, j.team_id, j.namespace, j.object_id, j.version, j.request_id, now_ms, now_ms) for j in jobs],
    )


async def claim(
    conn: AsyncConnection, kind: str, token: str, limit: int, now_ms: int, lease_ms: int, later: bool = True
) -> list[Job]:
    """Take up to `limit` ready jobs of one kind, oldest first, under a lease; of one object,
    only its lowest queued version. `later=False` (SQLite): leave `Job.later` False, for a
    caller that claims again in the batch's finish anyway."""
    pg = conn.dialect.name == "postgresql"
    rows = await conn.execute(sql(claim_statement(pg, kind)), claim_params(token, limit, now_ms, lease_ms))
    jobs = sorted((job_of(row) for row in rows), key=lambda job: job.id)
    if pg or not jobs or len(jobs) >= limit or not later:
        return jobs
    # SQLite runs a subquery in RETURNING as a scan of the whole table (EXPLAIN QUERY PLAN:
    # "SCAN l"), once per claimed job: with a backlog that made each claim O(queue). Asked
    # separately, it is an index probe per job; and only for a batch that is not full, since
    # a full one is followed by another claim anyway (`later` stays False in it).
    later = await conn.execute(sql(SQLITE_LATER), {"ids": arrays.values(conn, [job.id for job in jobs])})
    held_back = {row.id for row in later}
    return [dataclasses.replace(job, later=True) if job.id in held_back else job for job in jobs]


@functools.cache  # built once per dialect and kind, not at every claim
def claim_statement(pg: bool, kind: str) -> str:
    """The claim's UPDATE … RETURNING (also the first part of a PostgreSQL statement that
    claims and reads in one, store/evaluations.py)."""
    # The kind is written into the statement, not bound: only then can a cached generic plan
    # use the partial index of import jobs (ix_jobs_import_due, migration 0006). Through the
    # shared claim-order index an import claim walked every due evaluation job to find none
    # (7.5 ms a poll with 180,000 queued, several polls a second).
    if kind not in KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    # PostgreSQL: `id = ANY(ARRAY(…))`, not `id IN (…)`. Prepared statements get a generic plan
    # after five runs, which cannot see LIMIT's value and chose a hash join over a sequential
    # scan of all of jobs: 133 ms a claim with 300,000 queued, 5 ms this way (an import's
    # backlog made evaluation crawl at ~200 objects/s; docs/decisions.md).
    head, skip_locked, tail = ("= ANY(ARRAY(", " FOR UPDATE SKIP LOCKED", "))") if pg else ("IN (", "", ")")
    return (
        "UPDATE jobs SET lease_until_ms = :lease_until, lock_token = :token, attempts = attempts + 1 "
        f"WHERE id {head}SELECT j.id FROM jobs j WHERE j.kind = '{kind}' AND j.run_after_ms <= :now "
        # Not leased, or its lease ran out. A claim made by a worker of the code before
        # migration 0007 has a token but no lease_until_ms: its lease is in run_after_ms.
        "AND (j.lease_until_ms IS NULL OR j.lease_until_ms <= :now) "
        # One object's versions are evaluated one after another, in version order, so their
        # decisions (and webhook messages) are written in that order.
        "AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.team_id = j.team_id AND e.namespace = j.namespace "
        "AND e.object_id = j.object_id AND e.kind = j.kind AND e.version < j.version) "
        f"ORDER BY j.run_after_ms, j.id LIMIT :limit{skip_locked}{tail} "
        "RETURNING id, kind, team_id, namespace, object_id, version, request_id, attempts, "
        + (
            "EXISTS (SELECT 1 FROM jobs l WHERE l.team_id = jobs.team_id AND l.namespace = jobs.namespace "
            "AND l.object_id = jobs.object_id AND l.kind = jobs.kind AND l.version > jobs.version) AS later"
            if pg
            else "0 AS later"  # SQLite: asked after the claim (see claim)
        )
    )


# SQLite: which of the jobs `ids` hold back a later version of their object.
SQLITE_LATER = (
    "SELECT j.id FROM jobs j WHERE j.id IN (SELECT value FROM json_each(:ids)) "
    "AND EXISTS (SELECT 1 FROM jobs l WHERE l.team_id = j.team_id AND l.namespace = j.namespace "
    "AND l.object_id = j.object_id AND l.kind = j.kind AND l.version > j.version)"
)


def claim_params(token: str, limit: int, now_ms: int, lease_ms: int) -> dict[str, object]:
    return {"lease_until": now_ms + lease_ms, "token": token, "now": now_ms, "limit": limit}


def job_of(row: Any) -> Job:
    """A claimed job from a row of the claim's RETURNING columns."""
    return Job(
        row.id, row.kind, row.team_id, row.namespace, row.object_id, row.version, row.request_id, row.attempts,
        bool(row.later),
    )  # fmt: skip


async def finish(conn: AsyncConnection, token: str, job_ids: Sequence[int]) -> set[int]:
    """Delete the jobs this claim still holds; returns those it did (the others were re-claimed)."""
    if not job_ids:
        return set()
    rows = await conn.execute(
        sql(
            f"DELETE FROM jobs WHERE lock_token = :token AND {arrays.any_of(conn, 'id', 'ids', 'bigint')} RETURNING id"
        ),
        {"token": token, "ids": arrays.values(conn, sorted(job_ids))},
    )
    return {row.id for row in rows}


async def retry_later(conn: AsyncConnection, token: str, job_id: int, run_after_ms: int, error: str) -> bool:
    result = await conn.execute(
        sql(
            "UPDATE jobs SET run_after_ms = :run_after, lock_token = NULL, lease_until_ms = NULL, last_error = :error "
            "WHERE id = :id AND lock_token = :token"
        ),
        {"run_after": run_after_ms, "error": error[:2000], "id": job_id, "token": token},
    )
    return result.rowcount == 1


async def depth(conn: AsyncConnection) -> dict[str, int]:
    """Jobs waiting per kind (for /metrics)."""
    rows = await conn.execute(sql("SELECT kind, count(*) AS n FROM jobs GROUP BY kind"))
    return {row.kind: row.n for row in rows}
