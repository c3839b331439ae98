"""Requests: one per accepted call of several objects (or an import), with a count of items
not yet terminal. A call of one object has no row (see `single_object`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.store import arrays, jsondoc
from vigil.store.direct import sql
from vigil.store.schema import requests

QUEUED = "queued"  #: accepted, no item evaluated yet
UPLOADING = "uploading"  #: an import waiting for its file (docs/imports.md)
INGESTING = "ingesting"  #: a worker is evaluating its items
SUCCEEDED = "succeeded"  #: every item reached a terminal state (some may have failed)
FAILED = "failed"  #: the request as a whole could not be processed


@dataclass(frozen=True)
class NewRequest:
    id: str
    team_id: str
    namespace: str
    kind: str
    total: int


@dataclass(frozen=True)
class RequestRecord:
    id: str
    team_id: str
    namespace: str
    kind: str
    status: str
    total: int
    pending: int
    failed: int
    error_summary: str | None
    created_at_ms: int


async def insert_many(conn: AsyncConnection, new: Sequence[NewRequest], now_ms: int) -> None:
    """Insert request rows (SQLite: PostgreSQL writes them in its one ingest statement,
    store/ingest_pg.py)."""
    await conn.execute(
        sql(
            "INSERT INTO requests (id, team_id, namespace, kind, status, total, pending, failed, "
            "created_at_ms, updated_at_ms) "
            "VALUES (:id, :team, :ns, :kind, :status, :total, :total, 0, :now, :now)"
        ),
        [
            {"id": r.id, "team": r.team_id, "ns": r.namespace, "kind": r.kind, "status": QUEUED,
             "total": r.total, "now": now_ms}
            for r in new
        ],
    )  # fmt: skip


async def get(conn: AsyncConnection, team_id: str, namespace: str, request_id: str) -> RequestRecord | None:
    row = (
        await conn.execute(
            sa.select(requests).where(
                requests.c.id == request_id, requests.c.team_id == team_id, requests.c.namespace == namespace
            )
        )
    ).first()
    if row is not None:
        return _record(row)
    # A call of one object has no row: its version and that version's decision tell the rest.
    single = (
        await conn.execute(
            sql(
                "SELECT v.created_at_ms, d.status FROM object_versions v LEFT JOIN decisions d "
                "ON d.team_id = v.team_id AND d.namespace = v.namespace AND d.object_id = v.object_id "
                "AND d.version = v.version WHERE v.request_id = :rid AND v.request_idx = 0 "
                "AND v.team_id = :team AND v.namespace = :ns"
            ),
            {"rid": request_id, "team": team_id, "ns": namespace},
        )
    ).first()
    if single is None:
        return None
    return single_object(request_id, team_id, namespace, single.created_at_ms, single.status)


def single_object(
    request_id: str, team_id: str, namespace: str, created_at_ms: int, decision_status: str | None
) -> RequestRecord:
    """The record of a call that sent one object, which has no row in `requests` (a row per
    single-object call was an insert, a lock and an update per object; docs/decisions.md):
    `queued` until its object's decision, then `succeeded`, with that decision's failure."""
    decided = decision_status is not None
    return RequestRecord(
        request_id, team_id, namespace, "add", SUCCEEDED if decided else QUEUED, 1, 0 if decided else 1,
        int(decision_status == "failed"), None, created_at_ms,
    )  # fmt: skip


def _record(row: sa.Row) -> RequestRecord:
    return RequestRecord(
        row.id,
        row.team_id,
        row.namespace,
        row.kind,
        row.status,
        row.total,
        row.pending,
        row.failed,
        row.error_summary,
        row.created_at_ms,
    )


async def mark_ingesting(conn: AsyncConnection, request_ids: Sequence[str], now_ms: int) -> None:
    """Requests of several items show `ingesting` once a worker starts on them. A single-item
    request goes from `queued` to its terminal state in the claim's finish, milliseconds later:
    writing `ingesting` in between was a second row update per object (docs/api.md)."""
    if not request_ids:
        return
    await conn.execute(
        sql(mark_ingesting_statement(arrays.any_of(conn, "id", "ids"))),
        {**MARK_INGESTING_PARAMS, "now": now_ms, "ids": arrays.values(conn, sorted(set(request_ids)))},
    )


def mark_ingesting_statement(ids_condition: str) -> str:
    """mark_ingesting's UPDATE for the requests that `ids_condition` selects (also part of
    a PostgreSQL statement that claims and reads in one, store/evaluations.py)."""
    return (
        "UPDATE requests SET status = :ingesting, updated_at_ms = :now "
        f"WHERE {ids_condition} AND status = :queued AND total > 1"
    )


MARK_INGESTING_PARAMS = {"ingesting": INGESTING, "queued": QUEUED}


_COUNT_DONE = (
    "UPDATE requests SET pending = requests.pending - v.n, failed = requests.failed + v.f, "
    "updated_at_ms = :now, status = CASE WHEN requests.status = 'failed' THEN requests.status "
    "WHEN requests.pending - v.n <= 0 THEN 'succeeded' ELSE 'ingesting' END "
    "FROM {source} WHERE requests.id = v.rid "
    "RETURNING id, team_id, namespace, kind, status, total, pending, failed, error_summary, created_at_ms"
)


@functools.cache  # built once per dialect, not at every finish
def count_done_statement(pg: bool) -> str:
    """count_done's UPDATE: (rid, n, f) rows from three arrays (PostgreSQL) or a JSON array."""
    if pg:
        return _COUNT_DONE.format(
            source="unnest(CAST(:ids AS text[]), CAST(:ns AS int[]), CAST(:fs AS int[])) AS v(rid, n, f)"
        )
    return _COUNT_DONE.format(
        source="(SELECT json_extract(value, '$[0]') AS rid, json_extract(value, '$[1]') AS n, "
        "json_extract(value, '$[2]') AS f FROM json_each(:rows)) AS v"
    )


async def count_done(
    conn: AsyncConnection, done: dict[str, tuple[int, int]], now_ms: int
) -> tuple[list[RequestRecord], set[str]]:
    """Take finished items off each request's pending count: `done` maps id → (finished, failed).

    The request becomes `succeeded` when its count reaches zero; those that did are returned
    (for `request.completed` events), with the ids that have a row at all (a call of one
    object has none: see `single_object`). One statement for the whole batch (a statement per
    request was 40 % of a worker's time with single-object requests). On PostgreSQL the rows
    are locked in id order first, so workers finishing items of the same requests never
    deadlock; on SQLite the caller holds the single write lock.
    """
    if not done:
        return [], set()
    ids = sorted(done)
    params: dict[str, Any] = {"now": now_ms}
    pg = conn.dialect.name == "postgresql"
    if pg:
        await conn.execute(
            sql("SELECT id FROM requests WHERE id = ANY(CAST(:ids AS text[])) ORDER BY id FOR UPDATE"), {"ids": ids}
        )
        params.update(ids=ids, ns=[done[i][0] for i in ids], fs=[done[i][1] for i in ids])
    else:
        params["rows"] = jsondoc.dump([[i, done[i][0], done[i][1]] for i in ids])
    records = [_record(row) for row in await conn.execute(sql(count_done_statement(pg)), params)]
    completed = [r for r in records if r.status == SUCCEEDED and r.pending <= 0]
    return sorted(completed, key=lambda r: r.id), {r.id for r in records}


async def insert_import(conn: AsyncConnection, request_id: str, team_id: str, namespace: str, now_ms: int) -> None:
    """An import starts `uploading` with no items and one pending unit, "reading", which the
    last committed chunk removes: the request cannot succeed while lines remain unread."""
    await conn.execute(
        requests.insert().values(
            id=request_id,
            team_id=team_id,
            namespace=namespace,
            kind="import",
            status=UPLOADING,
            total=0,
            pending=1,
            failed=0,
            created_at_ms=now_ms,
            updated_at_ms=now_ms,
        )
    )


async def start_ingesting(conn: AsyncConnection, request_id: str, now_ms: int) -> None:
    await conn.execute(
        requests.update()
        .where(requests.c.id == request_id, requests.c.status == UPLOADING)
        .values(status=INGESTING, updated_at_ms=now_ms)
    )


async def add_items(conn: AsyncConnection, request_id: str, added: int, last: bool, now_ms: int) -> None:
    """Count an import chunk's accepted objects in; the last chunk also takes off the reading unit."""
    done = 1 if last else 0
    await conn.execute(
        sql(
            "UPDATE requests SET total = total + :n, pending = pending + :n - :done, updated_at_ms = :now, "
            "status = CASE WHEN status = 'failed' THEN status WHEN pending + :n - :done <= 0 THEN 'succeeded' "
            "ELSE status END WHERE id = :id"
        ),
        {"n": added, "done": done, "now": now_ms, "id": request_id},
    )


async def mark_failed(conn: AsyncConnection, request_id: str, summary: str, now_ms: int) -> None:
    await conn.execute(
        requests.update()
        .where(requests.c.id == request_id)
        .values(status=FAILED, error_summary=summary, updated_at_ms=now_ms)
    )


@dataclass(frozen=True)
class ItemResult:
    object_id: str
    version: int
    status: str | None  # None while not yet evaluated
    output: Any
    metadata: Any
    error: str | None


async def items(conn: AsyncConnection, request_id: str) -> list[ItemResult]:
    """The request's items in array order, each with its decision once there is one."""
    rows = await conn.execute(
        sql(
            "SELECT v.object_id, v.version, d.status, d.output, d.metadata, d.error "
            "FROM object_versions v LEFT JOIN decisions d ON d.team_id = v.team_id "
            "AND d.namespace = v.namespace AND d.object_id = v.object_id AND d.version = v.version "
            "WHERE v.request_id = :rid ORDER BY v.request_idx"
        ),
        {"rid": request_id},
    )
    return [
        ItemResult(
            row.object_id,
            row.version,
            row.status,
            None if row.output is None else jsondoc.load(row.output),
            None if row.metadata is None else jsondoc.load(row.metadata),
            row.error,
        )
        for row in rows
    ]


async def failed_items(conn: AsyncConnection, request_id: str, limit: int) -> list[tuple[str, str]]:
    rows = await conn.execute(
        sql(
            "SELECT v.object_id, d.error FROM object_versions v JOIN decisions d ON d.team_id = v.team_id "
            "AND d.namespace = v.namespace AND d.object_id = v.object_id AND d.version = v.version "
            "WHERE v.request_id = :rid AND d.status = 'failed' ORDER BY v.request_idx LIMIT :limit"
        ),
        {"rid": request_id, "limit": limit},
    )
    return [(row.object_id, row.error or "") for row in rows]
