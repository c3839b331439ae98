"""Policies: every version of each namespace's policy. The current one is the highest."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.store import arrays, jsondoc
from vigil.store.direct import sql
from vigil.store.schema import policies


@dataclass(frozen=True)
class PolicyRecord:
    namespace: str
    version: int
    document: dict[str, Any]
    source: str
    format: str
    created_at_ms: int


def _record(row: sa.Row) -> PolicyRecord:
    return PolicyRecord(
        row.namespace, row.version, jsondoc.load(row.document), row.source, row.format, row.created_at_ms
    )


async def lock_namespace(conn: AsyncConnection, team_id: str, namespace: str) -> None:
    """Serialise policy writers of one namespace (PostgreSQL; SQLite has one writer anyway).
    The namespace row must exist."""
    if conn.dialect.name == "postgresql":
        await conn.execute(
            sql("SELECT 1 FROM namespaces WHERE team_id = :team AND name = :ns FOR UPDATE"),
            {"team": team_id, "ns": namespace},
        )


async def insert_next(
    conn: AsyncConnection, team_id: str, namespace: str, document: dict[str, Any], source: str, format: str, now: int
) -> int:
    """Store a new version, numbered one above the current. Returns its number."""
    current = await conn.scalar(
        sa.select(sa.func.max(policies.c.version)).where(
            policies.c.team_id == team_id, policies.c.namespace == namespace
        )
    )
    version = (current or 0) + 1
    await conn.execute(
        policies.insert().values(
            team_id=team_id,
            namespace=namespace,
            version=version,
            document=jsondoc.dump(document) if conn.dialect.name != "postgresql" else document,
            source=source,
            format=format,
            created_at_ms=now,
        )
    )
    return version


async def current(conn: AsyncConnection, team_id: str, namespace: str) -> PolicyRecord | None:
    row = (
        await conn.execute(
            sa.select(policies)
            .where(policies.c.team_id == team_id, policies.c.namespace == namespace)
            .order_by(policies.c.version.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else _record(row)


async def get(conn: AsyncConnection, team_id: str, namespace: str, version: int) -> PolicyRecord | None:
    row = (
        await conn.execute(
            sa.select(policies).where(
                policies.c.team_id == team_id, policies.c.namespace == namespace, policies.c.version == version
            )
        )
    ).first()
    return None if row is None else _record(row)


async def versions(conn: AsyncConnection, team_id: str, namespace: str) -> list[tuple[int, str, int]]:
    """(version, format, created_at_ms) of every version, newest first."""
    rows = await conn.execute(
        sa.select(policies.c.version, policies.c.format, policies.c.created_at_ms)
        .where(policies.c.team_id == team_id, policies.c.namespace == namespace)
        .order_by(policies.c.version.desc())
    )
    return [(row.version, row.format, row.created_at_ms) for row in rows]


async def current_versions(conn: AsyncConnection, namespaces: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The current policy version of each (team, namespace) that has a policy."""
    pairs = sorted(set(namespaces))
    if not pairs:
        return {}
    # By team (a handful of rows each), then kept to the pairs asked for.
    rows = await conn.execute(
        sql(
            "SELECT team_id, namespace, max(version) AS version FROM policies "
            f"WHERE {arrays.any_of(conn, 'team_id', 'teams')} GROUP BY team_id, namespace"
        ),
        {"teams": arrays.values(conn, sorted({team for team, _ in pairs}))},
    )
    wanted = set(pairs)
    return {(row.team_id, row.namespace): row.version for row in rows if (row.team_id, row.namespace) in wanted}


async def current_documents(conn: AsyncConnection, team_id: str) -> dict[str, dict[str, Any]]:
    """namespace → document of the current policy, for every namespace of the team."""
    latest = (
        sa.select(policies.c.namespace, sa.func.max(policies.c.version).label("version"))
        .where(policies.c.team_id == team_id)
        .group_by(policies.c.namespace)
        .subquery()
    )
    rows = await conn.execute(
        sa.select(policies.c.namespace, policies.c.document)
        .join(latest, sa.and_(policies.c.namespace == latest.c.namespace, policies.c.version == latest.c.version))
        .where(policies.c.team_id == team_id)
    )
    return {row.namespace: jsondoc.load(row.document) for row in rows}


# A primary-key probe per pair whatever the statistics say (LATERAL … LIMIT 1, as in
# store/evaluations.py); planned as a join, the generic plan walked every object of the team.
PARENTS_PG = (
    "SELECT o.namespace, o.object_id, o.data FROM unnest(CAST(:ns AS text[]), CAST(:ids AS text[])) AS p(ns, id) "
    "JOIN LATERAL (SELECT namespace, object_id, data FROM objects WHERE team_id = :team AND namespace = p.ns "
    "AND object_id = p.id AND version > 0 LIMIT 1) o ON true"
)


async def parent_objects(
    conn: AsyncConnection, team_id: str, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The latest state of each (namespace, object_id) that exists: the parents a policy reads
    through `belongs_to` fields."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    found: dict[tuple[str, str], dict[str, Any]] = {}
    if conn.dialect.name == "postgresql":
        # Pairs as two arrays joined on the primary key: a probe per pair. A worker's PostgreSQL
        # sessions run without bitmap scans (store/db.py): an OR of pairs would walk the team.
        rows = await conn.execute(
            sql(PARENTS_PG), {"team": team_id, "ns": [n for n, _ in wanted], "ids": [o for _, o in wanted]}
        )
        return {(row.namespace, row.object_id): jsondoc.load(row.data) for row in rows}
    for start in range(0, len(wanted), 200):
        chunk = wanted[start : start + 200]
        params: dict[str, Any] = {"team": team_id}
        pairs = []
        for index, (namespace, object_id) in enumerate(chunk):
            params[f"n{index}"], params[f"o{index}"] = namespace, object_id
            pairs.append(f"(namespace = :n{index} AND object_id = :o{index})")
        rows = await conn.execute(
            sql(
                "SELECT namespace, object_id, data FROM objects WHERE team_id = :team AND version > 0 "
                f"AND ({' OR '.join(pairs)})"
            ),
            params,
        )
        for row in rows:
            found[(row.namespace, row.object_id)] = jsondoc.load(row.data)
    return found
