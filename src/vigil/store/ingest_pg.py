"""PostgreSQL's ingest write: latest state, versions, evaluation jobs, request rows and the
workers' NOTIFY in one statement.

Sent outside a transaction, the statement is a transaction of its own (PostgreSQL runs every
data-modifying CTE of a statement, atomically): an ingest flush is then one round trip where
BEGIN, a settings read, two statements and COMMIT took five, and a flush's latency bounds how
many requests group commit serves per second (docs/decisions.md, "Speed on the hot paths").

The statement guards itself: it writes only if every namespace it touches exists and is in
replace mode, and says whether it did. A new namespace or one in merge mode needs the settings
first, so the caller then takes the transaction path (service/ingest.py), which calls this
same statement for its replace-mode namespaces once the settings are in hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import TextClause

from vigil.store.direct import sql
from vigil.store.requests import QUEUED, NewRequest


@dataclass(frozen=True)
class Entry:
    """One accepted object, in arrival order."""

    team_id: str
    namespace: str
    object_id: str
    data_json: str
    request_id: str
    request_idx: int


# `k` numbers an object's entries 1..n in arrival order; the upsert adds n versions and returns
# the newest, so entry k is version newest - n + k. The last entry's parsed document is reused
# for its version row. Rows are taken in (team, namespace, object id) order, so that concurrent
# flushes touching the same objects lock them in one order and never deadlock.
def _statement(*, entries: str, ok: str, team: str, namespace: str, request: str, join: str) -> TextClause:
    """The statement, given the entries `e`, the settings check `ok`, where an entry's team,
    namespace and request id come from, and how the upserted rows join back to the entries."""
    return sql(
        f"WITH e AS ({entries}), {ok}"
        "up AS (INSERT INTO objects (team_id, namespace, object_id, version, data, created_at_ms, updated_at_ms) "
        f"SELECT {team}, {namespace}, e.object_id, e.n, CAST(e.data AS jsonb), :now, :now FROM e "
        f"WHERE e.k = e.n AND (SELECT ok FROM ok) ORDER BY {team}, {namespace}, e.object_id "
        "ON CONFLICT (team_id, namespace, object_id) DO UPDATE SET version = objects.version + excluded.version, "
        "data = excluded.data, updated_at_ms = excluded.updated_at_ms RETURNING team_id, namespace, object_id, "
        "version, data), "
        "v AS (INSERT INTO object_versions (team_id, namespace, object_id, version, data, request_id, request_idx, "
        f"created_at_ms) SELECT up.team_id, up.namespace, e.object_id, up.version - e.n + e.k, "
        f"CASE WHEN e.k = e.n THEN up.data ELSE CAST(e.data AS jsonb) END, {request}, e.request_idx, :now "
        f"FROM e JOIN up ON {join} "
        "RETURNING team_id, namespace, object_id, version, request_id), "
        "j AS (INSERT INTO jobs (kind, team_id, namespace, object_id, version, request_id, run_after_ms, attempts, "
        "created_at_ms) SELECT :kind, v.team_id, v.namespace, v.object_id, v.version, v.request_id, :now, 0, :now "
        "FROM v), "
        "r AS (INSERT INTO requests (id, team_id, namespace, kind, status, total, pending, failed, created_at_ms, "
        "updated_at_ms) SELECT q.id, q.team, q.ns, q.kind, :status, q.total, q.total, 0, :now, :now "
        "FROM unnest(CAST(:rids AS text[]), CAST(:rteams AS text[]), CAST(:rnss AS text[]), CAST(:rkinds AS text[]), "
        "CAST(:rtotals AS int[])) AS q(id, team, ns, kind, total) WHERE (SELECT ok FROM ok)) "
        "SELECT ok, CASE WHEN ok THEN pg_notify(:channel, '') END AS notified FROM ok"
    )


# Entries of several namespaces (or teams): each names its own.
_ADD = _statement(
    entries="SELECT * FROM unnest(CAST(:t AS text[]), CAST(:s AS text[]), CAST(:o AS text[]), CAST(:d AS text[]), "
    "CAST(:r AS text[]), CAST(:i AS int[]), CAST(:k AS int[]), CAST(:n AS int[])) "
    "AS e(team_id, namespace, object_id, data, request_id, request_idx, k, n)",
    ok="g AS (SELECT DISTINCT team_id, namespace FROM e), "
    "ok AS (SELECT count(*) = (SELECT count(*) FROM g) AS ok FROM g JOIN namespaces ns "
    "ON ns.team_id = g.team_id AND ns.name = g.namespace "
    "WHERE ns.settings->>'update_mode' IS DISTINCT FROM 'merge'), ",
    team="e.team_id",
    namespace="e.namespace",
    request="e.request_id",
    join="up.team_id = e.team_id AND up.namespace = e.namespace AND up.object_id = e.object_id",
)
# The usual flush: every entry in one namespace of one team, which are sent once, and each
# entry's request as a position in :q (a flush holds a few requests). Measured in isolation,
# 30 batches of 1,000: 30.5 → 25.0 ms a statement (the storage ceiling's 23.0).
_ADD_ONE = _statement(
    entries="SELECT * FROM unnest(CAST(:o AS text[]), CAST(:d AS text[]), CAST(:r AS int[]), CAST(:i AS int[]), "
    "CAST(:k AS int[]), CAST(:n AS int[])) AS e(object_id, data, request_at, request_idx, k, n)",
    ok="ok AS (SELECT EXISTS (SELECT 1 FROM namespaces WHERE team_id = :team AND name = :ns "
    "AND settings->>'update_mode' IS DISTINCT FROM 'merge') AS ok), ",
    team="CAST(:team AS text)",
    namespace="CAST(:ns AS text)",
    request="(CAST(:q AS text[]))[e.request_at]",
    join="up.object_id = e.object_id",
)


async def add(
    conn: object,
    entries: Sequence[Entry],
    new_requests: Sequence[NewRequest],
    job_kind: str,
    now_ms: int,
    channel: str,
) -> bool:
    """Store every entry as the next version of its object with a `job_kind` job, insert
    `new_requests`, and notify `channel`: all of it, or nothing if a namespace of `entries`
    is missing or in merge mode (then False)."""
    first = entries[0] if entries else None
    one = first is not None and all(e.team_id == first.team_id and e.namespace == first.namespace for e in entries)
    totals: dict[object, int] = {}
    ordinals = []
    keys = [e.object_id for e in entries] if one else [(e.team_id, e.namespace, e.object_id) for e in entries]
    for key in keys:
        totals[key] = ordinal = totals.get(key, 0) + 1
        ordinals.append(ordinal)
    params: dict[str, object] = {
        "now": now_ms,
        "kind": job_kind,
        "status": QUEUED,
        "channel": channel,
        "o": [e.object_id for e in entries],
        "d": [e.data_json for e in entries],
        "i": [e.request_idx for e in entries],
        "k": ordinals,
        "n": [totals[key] for key in keys],
        "rids": [q.id for q in new_requests],
        "rteams": [q.team_id for q in new_requests],
        "rnss": [q.namespace for q in new_requests],
        "rkinds": [q.kind for q in new_requests],
        "rtotals": [q.total for q in new_requests],
    }
    if one:
        assert first is not None
        at: dict[str, int] = {}
        params.update(
            team=first.team_id,
            ns=first.namespace,
            r=[at.setdefault(e.request_id, len(at) + 1) for e in entries],  # 1-based, as SQL arrays
            q=list(at),
        )
        statement = _ADD_ONE
    else:
        params.update(
            t=[e.team_id for e in entries], s=[e.namespace for e in entries], r=[e.request_id for e in entries]
        )
        statement = _ADD
    row = (await conn.execute(statement, params)).first()  # type: ignore[attr-defined]
    return bool(row.ok)
