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
_ADD = sql(
    "WITH e AS (SELECT * FROM unnest(CAST(:t AS text[]), CAST(:s AS text[]), CAST(:o AS text[]), "
    "CAST(:d AS text[]), CAST(:r AS text[]), CAST(:i AS int[]), CAST(:k AS int[]), CAST(:n AS int[])) "
    "AS e(team_id, namespace, object_id, data, request_id, request_idx, k, n)), "
    "g AS (SELECT DISTINCT team_id, namespace FROM e), "
    "ok AS (SELECT count(*) = (SELECT count(*) FROM g) AS ok FROM g JOIN namespaces ns "
    "ON ns.team_id = g.team_id AND ns.name = g.namespace "
    "WHERE ns.settings->>'update_mode' IS DISTINCT FROM 'merge'), "
    "up AS (INSERT INTO objects (team_id, namespace, object_id, version, data, created_at_ms, updated_at_ms) "
    "SELECT e.team_id, e.namespace, e.object_id, e.n, CAST(e.data AS jsonb), :now, :now FROM e "
    "WHERE e.k = e.n AND (SELECT ok FROM ok) ORDER BY e.team_id, e.namespace, e.object_id "
    "ON CONFLICT (team_id, namespace, object_id) DO UPDATE SET version = objects.version + excluded.version, "
    "data = excluded.data, updated_at_ms = excluded.updated_at_ms RETURNING team_id, namespace, object_id, "
    "version, data), "
    "v AS (INSERT INTO object_versions (team_id, namespace, object_id, version, data, request_id, request_idx, "
    "created_at_ms) SELECT e.team_id, e.namespace, e.object_id, up.version - e.n + e.k, "
    "CASE WHEN e.k = e.n THEN up.data ELSE CAST(e.data AS jsonb) END, e.request_id, e.request_idx, :now "
    "FROM e JOIN up USING (team_id, namespace, object_id) "
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
    totals: dict[tuple[str, str, str], int] = {}
    ordinals = []
    for entry in entries:
        key = (entry.team_id, entry.namespace, entry.object_id)
        totals[key] = ordinal = totals.get(key, 0) + 1
        ordinals.append(ordinal)
    row = (
        await conn.execute(  # type: ignore[attr-defined]
            _ADD,
            {
                "now": now_ms,
                "kind": job_kind,
                "status": QUEUED,
                "channel": channel,
                "t": [e.team_id for e in entries],
                "s": [e.namespace for e in entries],
                "o": [e.object_id for e in entries],
                "d": [e.data_json for e in entries],
                "r": [e.request_id for e in entries],
                "i": [e.request_idx for e in entries],
                "k": ordinals,
                "n": [totals[(e.team_id, e.namespace, e.object_id)] for e in entries],
                "rids": [q.id for q in new_requests],
                "rteams": [q.team_id for q in new_requests],
                "rnss": [q.namespace for q in new_requests],
                "rkinds": [q.kind for q in new_requests],
                "rtotals": [q.total for q in new_requests],
            },
        )
    ).first()
    return bool(row.ok)
