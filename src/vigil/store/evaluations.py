"""What an evaluation job needs, read in one query: the version, the one before it, and the
namespace settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.store import arrays, jsondoc
from vigil.store.direct import sql


@dataclass(frozen=True)
class Inputs:
    data: Any
    previous: Any  # None for version 1
    settings: dict[str, Any]
    created_at_ms: int


async def load(conn: AsyncConnection, job_ids: Sequence[int]) -> dict[int, Inputs]:
    if not job_ids:
        return {}
    rows = await conn.execute(
        sql(
            "SELECT j.id, v.data, v.created_at_ms, p.data AS previous, n.settings FROM jobs j "
            "JOIN object_versions v ON v.team_id = j.team_id AND v.namespace = j.namespace "
            "AND v.object_id = j.object_id AND v.version = j.version "
            "LEFT JOIN object_versions p ON p.team_id = j.team_id AND p.namespace = j.namespace "
            "AND p.object_id = j.object_id AND p.version = j.version - 1 "
            "LEFT JOIN namespaces n ON n.team_id = j.team_id AND n.name = j.namespace "
            f"WHERE {arrays.any_of(conn, 'j.id', 'ids', 'bigint')}"
        ),
        {"ids": arrays.values(conn, job_ids)},
    )
    return {
        row.id: Inputs(
            jsondoc.load(row.data),
            None if row.previous is None else jsondoc.load(row.previous),
            {} if row.settings is None else jsondoc.load(row.settings),
            row.created_at_ms,
        )
        for row in rows
    }
