"""Reading the delivery log: messages with their attempts, and per-endpoint health."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.store.schema import webhook_attempts as a
from vigil.store.schema import webhook_messages as m


@dataclass(frozen=True)
class MessageFilter:
    endpoint_id: str | None = None
    status: str | None = None
    namespace: str | None = None
    object_id: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None
    before_seq: int | None = None  # cursor: messages older than this one


async def messages(conn: AsyncConnection, team_id: str, where: MessageFilter, limit: int) -> list[dict[str, Any]]:
    query = sa.select(m).where(m.c.team_id == team_id).order_by(m.c.seq.desc()).limit(limit)
    for column, value in (
        (m.c.endpoint_id, where.endpoint_id),
        (m.c.status, where.status),
        (m.c.namespace, where.namespace),
        (m.c.object_id, where.object_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if where.since_ms is not None:
        query = query.where(m.c.created_at_ms >= where.since_ms)
    if where.until_ms is not None:
        query = query.where(m.c.created_at_ms < where.until_ms)
    if where.before_seq is not None:
        query = query.where(m.c.seq < where.before_seq)
    rows = list(await conn.execute(query))
    attempts: dict[int, list[dict[str, Any]]] = {row.seq: [] for row in rows}
    if rows:
        for att in await conn.execute(
            sa.select(a).where(a.c.message_seq.in_(list(attempts))).order_by(a.c.message_seq, a.c.attempt, a.c.id)
        ):
            attempts[att.message_seq].append(
                {
                    "attempt": att.attempt,
                    "started_at_ms": att.started_at_ms,
                    "status_code": att.status_code,
                    "latency_ms": att.latency_ms,
                    "error": att.error,
                    "response_excerpt": att.response_excerpt,
                }
            )
    return [
        {
            "seq": row.seq,
            "id": row.id,
            "endpoint_id": row.endpoint_id,
            "event_type": row.event_type,
            "namespace": row.namespace,
            "object_id": row.object_id,
            "version": row.version,
            "status": row.status,
            "attempt_count": row.attempts,
            "next_attempt_ms": row.next_attempt_ms if row.status == "pending" else None,
            "last_status_code": row.last_status_code,
            "last_error": row.last_error,
            "created_at_ms": row.created_at_ms,
            "delivered_at_ms": row.delivered_at_ms,
            "payload": row.payload,
            "attempts": attempts[row.seq],
        }
        for row in rows
    ]


async def message_by_id(conn: AsyncConnection, team_id: str, message_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(sa.select(m.c.seq).where(m.c.team_id == team_id, m.c.id == message_id))).first()
    if row is None:
        return None
    found = await messages(conn, team_id, MessageFilter(before_seq=row.seq + 1), 1)
    return found[0] if found else None


@dataclass(frozen=True)
class Health:
    attempts_24h: int
    successes_24h: int
    last_error: str | None
    last_error_at_ms: int | None
    oldest_undelivered_ms: int | None
    pending: int


async def health(conn: AsyncConnection, endpoint_id: str, now_ms: int) -> Health:
    since = now_ms - 24 * 3600 * 1000
    counts = (
        await conn.execute(
            sa.text(
                "SELECT count(*) AS n, coalesce(sum(CASE WHEN status_code BETWEEN 200 AND 299 THEN 1 ELSE 0 END), 0) "
                "AS ok FROM webhook_attempts WHERE endpoint_id = :ep AND started_at_ms >= :since"
            ),
            {"ep": endpoint_id, "since": since},
        )
    ).one()
    last = (
        await conn.execute(
            sa.text(
                "SELECT error, started_at_ms FROM webhook_attempts WHERE endpoint_id = :ep AND error IS NOT NULL "
                "ORDER BY started_at_ms DESC, id DESC LIMIT 1"
            ),
            {"ep": endpoint_id},
        )
    ).first()
    pending = (
        await conn.execute(
            sa.text(
                "SELECT count(*) AS n, min(created_at_ms) AS oldest FROM webhook_messages "
                "WHERE endpoint_id = :ep AND status = 'pending'"
            ),
            {"ep": endpoint_id},
        )
    ).one()
    return Health(
        attempts_24h=counts.n,
        successes_24h=int(counts.ok),
        last_error=last.error if last else None,
        last_error_at_ms=last.started_at_ms if last else None,
        oldest_undelivered_ms=pending.oldest,
        pending=pending.n,
    )


async def all_endpoint_gauges(conn: AsyncConnection, now_ms: int) -> list[dict[str, Any]]:
    """Per endpoint: pending count, oldest pending time, disabled, attempts and successes over 24 h."""
    since = now_ms - 24 * 3600 * 1000
    rows = await conn.execute(
        sa.text(
            "SELECT e.id, e.enabled, "
            "(SELECT count(*) FROM webhook_messages m WHERE m.endpoint_id = e.id AND m.status = 'pending') AS pending, "
            "(SELECT min(created_at_ms) FROM webhook_messages m WHERE m.endpoint_id = e.id AND m.status = 'pending') "
            "AS oldest, "
            "(SELECT count(*) FROM webhook_attempts a WHERE a.endpoint_id = e.id AND a.started_at_ms >= :since) "
            "AS attempts, "
            "(SELECT count(*) FROM webhook_attempts a WHERE a.endpoint_id = e.id AND a.started_at_ms >= :since "
            "AND a.status_code BETWEEN 200 AND 299) AS successes "
            "FROM webhook_endpoints e"
        ),
        {"since": since},
    )
    return [dict(row._mapping) for row in rows]
