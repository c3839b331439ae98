"""Namespaces and their settings document."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.store import jsondoc
from vigil.store.direct import sql


async def get_settings(conn: AsyncConnection, team_id: str, name: str) -> dict[str, Any] | None:
    value = await conn.scalar(
        sql("SELECT settings FROM namespaces WHERE team_id = :team AND name = :name"),
        {"team": team_id, "name": name},
    )
    return None if value is None else jsondoc.load(value)


async def put_settings(conn: AsyncConnection, team_id: str, name: str, settings: dict[str, Any], now_ms: int) -> None:
    """Create the namespace or replace its settings."""
    doc = jsondoc.dump(settings)
    cast = "CAST(:settings AS jsonb)" if conn.dialect.name == "postgresql" else ":settings"
    await conn.execute(
        sql(
            "INSERT INTO namespaces (team_id, name, settings, created_at_ms, updated_at_ms) "
            f"VALUES (:team, :name, {cast}, :now, :now) "
            "ON CONFLICT (team_id, name) DO UPDATE SET settings = excluded.settings, "
            "updated_at_ms = excluded.updated_at_ms"
        ),
        {"team": team_id, "name": name, "settings": doc, "now": now_ms},
    )


async def ensure(conn: AsyncConnection, team_id: str, name: str, now_ms: int) -> dict[str, Any]:
    """The namespace's settings, creating it with empty settings on its first object."""
    settings = await get_settings(conn, team_id, name)
    if settings is not None:
        return settings
    cast = "CAST(:settings AS jsonb)" if conn.dialect.name == "postgresql" else ":settings"
    await conn.execute(
        sql(
            "INSERT INTO namespaces (team_id, name, settings, created_at_ms, updated_at_ms) "
            f"VALUES (:team, :name, {cast}, :now, :now) ON CONFLICT (team_id, name) DO NOTHING"
        ),
        {"team": team_id, "name": name, "settings": "{}", "now": now_ms},
    )
    # Another transaction may have created it first, with settings of its own.
    return await get_settings(conn, team_id, name) or {}
