"""Webhook endpoints: where a team's events go, and how they are signed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.store import arrays, jsondoc
from vigil.store.direct import sql
from vigil.store.schema import webhook_endpoints as t


@dataclass(frozen=True)
class Endpoint:
    id: str
    team_id: str
    url: str
    description: str
    event_types: list[str] | None
    namespaces: list[str] | None
    headers: dict[str, str]
    enabled: bool
    disabled_reason: str | None
    secret: str
    previous_secret: str | None
    previous_secret_until_ms: int | None
    failing_since_ms: int | None
    created_at_ms: int
    updated_at_ms: int

    def wants(self, event_type: str, namespace: str | None) -> bool:
        if self.event_types is not None and event_type not in self.event_types:
            return False
        return namespace is None or self.namespaces is None or namespace in self.namespaces

    def signing_secrets(self, now_ms: int) -> list[str]:
        secrets = [self.secret]
        if self.previous_secret and (self.previous_secret_until_ms or 0) > now_ms:
            secrets.append(self.previous_secret)
        return secrets


def _endpoint(row: sa.Row) -> Endpoint:
    return Endpoint(
        id=row.id,
        team_id=row.team_id,
        url=row.url,
        description=row.description,
        event_types=None if row.event_types is None else jsondoc.load(row.event_types),
        namespaces=None if row.namespaces is None else jsondoc.load(row.namespaces),
        headers=jsondoc.load(row.headers),
        enabled=bool(row.enabled),
        disabled_reason=row.disabled_reason,
        secret=row.secret,
        previous_secret=row.previous_secret,
        previous_secret_until_ms=row.previous_secret_until_ms,
        failing_since_ms=row.failing_since_ms,
        created_at_ms=row.created_at_ms,
        updated_at_ms=row.updated_at_ms,
    )


def _json_values(conn: AsyncConnection, values: dict[str, Any]) -> dict[str, Any]:
    """JSON columns take text on SQLite; on PostgreSQL the jsonb type encodes the value itself."""
    out = dict(values)
    for key in ("event_types", "namespaces", "headers"):
        if key in out and out[key] is not None and conn.dialect.name != "postgresql":
            out[key] = jsondoc.dump(out[key])
    return out


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(t.insert().values(**_json_values(conn, values)))


async def update(conn: AsyncConnection, team_id: str, endpoint_id: str, values: dict[str, Any]) -> bool:
    result = await conn.execute(
        t.update().where(t.c.team_id == team_id, t.c.id == endpoint_id).values(**_json_values(conn, values))
    )
    return result.rowcount == 1


async def delete(conn: AsyncConnection, team_id: str, endpoint_id: str) -> bool:
    result = await conn.execute(t.delete().where(t.c.team_id == team_id, t.c.id == endpoint_id))
    return result.rowcount == 1


async def get(conn: AsyncConnection, team_id: str, endpoint_id: str) -> Endpoint | None:
    row = (await conn.execute(sa.select(t).where(t.c.team_id == team_id, t.c.id == endpoint_id))).first()
    return None if row is None else _endpoint(row)


async def list_for_team(conn: AsyncConnection, team_id: str) -> list[Endpoint]:
    rows = await conn.execute(sa.select(t).where(t.c.team_id == team_id).order_by(t.c.created_at_ms, t.c.id))
    return [_endpoint(row) for row in rows]


async def for_teams(conn: AsyncConnection, team_ids: Sequence[str]) -> list[Endpoint]:
    if not team_ids:
        return []
    rows = await conn.execute(
        sql(f"SELECT * FROM webhook_endpoints WHERE {arrays.any_of(conn, 'team_id', 'teams')} ORDER BY id"),
        {"teams": arrays.values(conn, sorted(set(team_ids)))},
    )
    return [_endpoint(row) for row in rows]


async def by_ids(conn: AsyncConnection, endpoint_ids: Sequence[str]) -> dict[str, Endpoint]:
    if not endpoint_ids:
        return {}
    rows = await conn.execute(
        sql(f"SELECT * FROM webhook_endpoints WHERE {arrays.any_of(conn, 'id', 'ids')}"),
        {"ids": arrays.values(conn, sorted(set(endpoint_ids)))},
    )
    return {row.id: _endpoint(row) for row in rows}


async def all_enabled_ids(conn: AsyncConnection) -> list[str]:
    return [row.id for row in await conn.execute(sa.select(t.c.id).where(t.c.enabled.is_(True)))]


async def mark_healthy(conn: AsyncConnection, endpoint_ids: Sequence[str], now_ms: int) -> None:
    if endpoint_ids:
        await conn.execute(
            sql(
                "UPDATE webhook_endpoints SET failing_since_ms = NULL "
                f"WHERE {arrays.any_of(conn, 'id', 'ids')} AND failing_since_ms IS NOT NULL"
            ),
            {"ids": arrays.values(conn, endpoint_ids)},
        )


async def mark_failing(conn: AsyncConnection, endpoint_ids: Sequence[str], now_ms: int) -> None:
    if endpoint_ids:
        await conn.execute(
            sql(
                "UPDATE webhook_endpoints SET failing_since_ms = :now "
                f"WHERE {arrays.any_of(conn, 'id', 'ids')} AND failing_since_ms IS NULL"
            ),
            {"ids": arrays.values(conn, endpoint_ids), "now": now_ms},
        )


async def failing_longer_than(conn: AsyncConnection, endpoint_ids: Sequence[str], since_ms: int) -> list[str]:
    if not endpoint_ids:
        return []
    rows = await conn.execute(
        sql(
            f"SELECT id FROM webhook_endpoints WHERE {arrays.any_of(conn, 'id', 'ids')} AND enabled "
            "AND failing_since_ms <= :since"
        ),
        {"ids": arrays.values(conn, endpoint_ids), "since": since_ms},
    )
    return [row.id for row in rows]


async def disable(conn: AsyncConnection, endpoint_id: str, reason: str, now_ms: int) -> None:
    await conn.execute(
        sql(
            "UPDATE webhook_endpoints SET enabled = :no, disabled_reason = :reason, updated_at_ms = :now WHERE id = :ep"
        ),
        {"no": False, "reason": reason, "now": now_ms, "ep": endpoint_id},
    )
