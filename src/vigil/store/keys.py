"""Teams and API keys."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.store.schema import api_keys, teams


@dataclass(frozen=True)
class KeyRecord:
    id: str
    team_id: str
    team_name: str
    name: str
    prefix: str
    scopes: frozenset[str]
    created_at_ms: int
    revoked_at_ms: int | None


async def find_team(conn: AsyncConnection, name: str) -> str | None:
    return await conn.scalar(sa.select(teams.c.id).where(teams.c.name == name))


async def insert_team(conn: AsyncConnection, team_id: str, name: str, now_ms: int) -> None:
    await conn.execute(teams.insert().values(id=team_id, name=name, created_at_ms=now_ms))


async def insert_key(
    conn: AsyncConnection,
    *,
    key_id: str,
    team_id: str,
    name: str,
    prefix: str,
    key_hash: str,
    scopes: list[str],
    now_ms: int,
) -> None:
    await conn.execute(
        api_keys.insert().values(
            id=key_id,
            team_id=team_id,
            name=name,
            prefix=prefix,
            key_hash=key_hash,
            scopes=" ".join(sorted(scopes)),
            created_at_ms=now_ms,
        )
    )


def _select_keys() -> sa.Select:
    return sa.select(api_keys, teams.c.name.label("team_name")).join(teams, teams.c.id == api_keys.c.team_id)


def _record(row: sa.Row) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        team_id=row.team_id,
        team_name=row.team_name,
        name=row.name,
        prefix=row.prefix,
        scopes=frozenset(row.scopes.split()),
        created_at_ms=row.created_at_ms,
        revoked_at_ms=row.revoked_at_ms,
    )


async def find_active_key(conn: AsyncConnection, key_hash: str) -> KeyRecord | None:
    row = (
        await conn.execute(_select_keys().where(api_keys.c.key_hash == key_hash, api_keys.c.revoked_at_ms.is_(None)))
    ).first()
    return _record(row) if row else None


async def list_keys(conn: AsyncConnection, team_id: str | None = None) -> list[KeyRecord]:
    query = _select_keys().order_by(api_keys.c.created_at_ms, api_keys.c.id)
    if team_id is not None:
        query = query.where(api_keys.c.team_id == team_id)
    return [_record(row) for row in await conn.execute(query)]


async def revoke_key(conn: AsyncConnection, key_id: str, now_ms: int) -> bool:
    result = await conn.execute(
        api_keys.update()
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at_ms.is_(None))
        .values(revoked_at_ms=now_ms)
    )
    return result.rowcount == 1
