"""Decisions: the result of evaluating one object version. Exactly one per version."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.store import jsondoc
from vigil.store.direct import sql


@dataclass(frozen=True)
class NewDecision:
    team_id: str
    namespace: str
    object_id: str
    version: int
    status: str  # succeeded | failed
    output: Any  # None when failed
    metadata: dict[str, Any]
    error: str | None
    policy_version: int | None
    provenance: Any = None  # the rules that fired and their evidence (engine.models.Provenance)


async def insert_many(conn: AsyncConnection, new: Sequence[NewDecision], now_ms: int) -> None:
    """Insert decisions; a version that already has one keeps it (a retry never writes twice)."""
    if not new:
        return
    json_cast = "CAST({} AS jsonb)" if conn.dialect.name == "postgresql" else "{}"
    await conn.execute(
        sql(
            "INSERT INTO decisions (team_id, namespace, object_id, version, status, output, metadata, "
            "error, policy_version, provenance, created_at_ms) VALUES (:team, :ns, :oid, :version, :status, "
            f"{json_cast.format(':output')}, {json_cast.format(':metadata')}, :error, :policy_version, "
            f"{json_cast.format(':provenance')}, :now) "
            "ON CONFLICT (team_id, namespace, object_id, version) DO NOTHING"
        ),
        [
            {
                "team": d.team_id,
                "ns": d.namespace,
                "oid": d.object_id,
                "version": d.version,
                "status": d.status,
                "output": None if d.output is None else jsondoc.dump(d.output),
                "metadata": jsondoc.dump(d.metadata),
                "error": d.error,
                "policy_version": d.policy_version,
                "provenance": None if d.provenance is None else jsondoc.dump(d.provenance),
                "now": now_ms,
            }
            for d in new
        ],
    )


@dataclass(frozen=True)
class DecisionRecord:
    version: int
    status: str
    output: Any
    metadata: Any
    error: str | None
    policy_version: int | None
    created_at_ms: int


async def get(
    conn: AsyncConnection, team_id: str, namespace: str, object_id: str, version: int
) -> DecisionRecord | None:
    row = (
        await conn.execute(
            sql(
                "SELECT version, status, output, metadata, error, policy_version, created_at_ms FROM decisions "
                "WHERE team_id = :team AND namespace = :ns AND object_id = :oid AND version = :version"
            ),
            {"team": team_id, "ns": namespace, "oid": object_id, "version": version},
        )
    ).first()
    if row is None:
        return None
    return DecisionRecord(
        row.version,
        row.status,
        None if row.output is None else jsondoc.load(row.output),
        jsondoc.load(row.metadata),
        row.error,
        row.policy_version,
        row.created_at_ms,
    )
