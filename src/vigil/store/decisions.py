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
    outputs = [None if d.output is None else jsondoc.dump(d.output) for d in new]
    metadata = [jsondoc.dump(d.metadata) for d in new]
    provenance = [None if d.provenance is None else jsondoc.dump(d.provenance) for d in new]
    if conn.dialect.name == "postgresql":
        # One statement over arrays: executemany ran the INSERT once per row, 17 % of
        # PostgreSQL's time while a worker drained a queue (docs/decisions.md).
        await conn.execute(_INSERT_PG, {
            "now": now_ms, "t": [d.team_id for d in new], "n": [d.namespace for d in new],
            "o": [d.object_id for d in new], "v": [d.version for d in new], "s": [d.status for d in new],
            "out": outputs, "meta": metadata, "e": [d.error for d in new],
            "pv": [d.policy_version for d in new], "prov": provenance,
        })  # fmt: skip
        return
    await conn.execute(
        _INSERT_SQLITE,
        [
            {
                "team": d.team_id, "ns": d.namespace, "oid": d.object_id, "version": d.version,
                "status": d.status, "output": output, "metadata": meta, "error": d.error,
                "policy_version": d.policy_version, "provenance": prov, "now": now_ms,
            }
            for d, output, meta, prov in zip(new, outputs, metadata, provenance, strict=True)
        ],
    )  # fmt: skip


_COLUMNS = (
    "INSERT INTO decisions (team_id, namespace, object_id, version, status, output, metadata, "
    "error, policy_version, provenance, created_at_ms) "
)
_INSERT_PG = sql(
    _COLUMNS + "SELECT d.t, d.n, d.o, d.v, d.s, CAST(d.out AS jsonb), CAST(d.meta AS jsonb), d.e, d.pv, "
    "CAST(d.prov AS jsonb), :now FROM unnest(CAST(:t AS text[]), CAST(:n AS text[]), CAST(:o AS text[]), "
    "CAST(:v AS int[]), CAST(:s AS text[]), CAST(:out AS text[]), CAST(:meta AS text[]), CAST(:e AS text[]), "
    "CAST(:pv AS int[]), CAST(:prov AS text[])) AS d(t, n, o, v, s, out, meta, e, pv, prov) "
    "ON CONFLICT (team_id, namespace, object_id, version) DO NOTHING"
)
_INSERT_SQLITE = sql(
    _COLUMNS + "VALUES (:team, :ns, :oid, :version, :status, :output, :metadata, :error, :policy_version, "
    ":provenance, :now) ON CONFLICT (team_id, namespace, object_id, version) DO NOTHING"
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
