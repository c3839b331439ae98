"""Named value lists of a team: kind, normalised items and a version that counts replacements."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.store import arrays, jsondoc
from vigil.store.direct import sql
from vigil.store.schema import lists


@dataclass(frozen=True)
class ListSummary:
    name: str
    kind: str
    description: str
    count: int
    version: int
    created_at_ms: int
    updated_at_ms: int


@dataclass(frozen=True)
class ListRecord:
    summary: ListSummary
    items: list[str]


_SUMMARY = (
    lists.c.name,
    lists.c.kind,
    lists.c.description,
    lists.c.item_count,
    lists.c.version,
    lists.c.created_at_ms,
    lists.c.updated_at_ms,
)


def _summary(row: sa.Row) -> ListSummary:
    return ListSummary(
        row.name, row.kind, row.description, row.item_count, row.version, row.created_at_ms, row.updated_at_ms
    )


async def put(
    conn: AsyncConnection, team_id: str, name: str, kind: str, description: str, items: list[str], now: int
) -> int:
    """Create the list or replace its items; returns the new version (1 on creation)."""
    cast = "CAST(:items AS jsonb)" if conn.dialect.name == "postgresql" else ":items"
    version = await conn.scalar(
        sql(
            "INSERT INTO lists (team_id, name, kind, description, items, item_count, version, created_at_ms, "
            f"updated_at_ms) VALUES (:team, :name, :kind, :description, {cast}, :count, 1, :now, :now) "
            "ON CONFLICT (team_id, name) DO UPDATE SET kind = excluded.kind, description = excluded.description, "
            "items = excluded.items, item_count = excluded.item_count, version = lists.version + 1, "
            "updated_at_ms = excluded.updated_at_ms RETURNING version"
        ),
        {
            "team": team_id,
            "name": name,
            "kind": kind,
            "description": description,
            "items": jsondoc.dump(items),
            "count": len(items),
            "now": now,
        },
    )
    return int(version)


async def get(conn: AsyncConnection, team_id: str, name: str) -> ListRecord | None:
    row = (
        await conn.execute(
            sa.select(*_SUMMARY, lists.c["items"]).where(lists.c.team_id == team_id, lists.c.name == name)
        )
    ).first()
    return None if row is None else ListRecord(_summary(row), jsondoc.load(row.items))


async def summaries(conn: AsyncConnection, team_id: str) -> list[ListSummary]:
    rows = await conn.execute(sa.select(*_SUMMARY).where(lists.c.team_id == team_id).order_by(lists.c.name))
    return [_summary(row) for row in rows]


async def delete(conn: AsyncConnection, team_id: str, name: str) -> bool:
    result = await conn.execute(sa.delete(lists).where(lists.c.team_id == team_id, lists.c.name == name))
    return result.rowcount == 1


async def versions(conn: AsyncConnection, team_ids: Iterable[str]) -> dict[tuple[str, str], tuple[str, int]]:
    """(team, name) → (kind, version) of every list of these teams: cheap, no items."""
    teams = sorted(set(team_ids))
    if not teams:
        return {}
    rows = await conn.execute(
        sql(f"SELECT team_id, name, kind, version FROM lists WHERE {arrays.any_of(conn, 'team_id', 'teams')}"),
        {"teams": arrays.values(conn, teams)},
    )
    return {(row.team_id, row.name): (row.kind, row.version) for row in rows}


# A primary-key probe per pair whatever the statistics say (LATERAL … LIMIT 1).
ITEMS_PG = (
    "SELECT l.* FROM unnest(CAST(:teams AS text[]), CAST(:names AS text[])) AS p(team, name) "
    "JOIN LATERAL (SELECT team_id, name, kind, description, item_count, version, created_at_ms, updated_at_ms, "
    "items FROM lists WHERE team_id = p.team AND name = p.name LIMIT 1) l ON true"
)


async def items(conn: AsyncConnection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], ListRecord]:
    """The full lists named by (team, name)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    if conn.dialect.name == "postgresql":
        # A probe per pair (a worker's PostgreSQL sessions run without the bitmap scans an OR needs).
        rows = await conn.execute(sql(ITEMS_PG), {"teams": [t for t, _ in wanted], "names": [n for _, n in wanted]})
    else:
        condition = sa.or_(*(sa.and_(lists.c.team_id == t, lists.c.name == n) for t, n in wanted))
        rows = await conn.execute(sa.select(lists.c.team_id, *_SUMMARY, lists.c["items"]).where(condition))
    return {(row.team_id, row.name): ListRecord(_summary(row), jsondoc.load(row.items)) for row in rows}
