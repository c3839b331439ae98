"""Webhook messages and their delivery attempts: the delivery queue.

Claiming works like the job queue (store/queue.py): a lease in `next_attempt_ms` and a fresh
`lock_token`. A message is claimable only if no earlier message with the same order key
(namespace + object id) is still pending on its endpoint: a failing message holds back the
later messages of its own object, never those of other objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.store import jsondoc
from vigil.store.direct import sql

PENDING = "pending"  #: waiting for its next attempt (or being attempted)
DELIVERED = "delivered"  #: an attempt got a 2xx
FAILED = "failed"  #: the retry schedule ran out, or the endpoint was disabled


@dataclass(frozen=True)
class NewMessage:
    id: str
    team_id: str
    endpoint_id: str
    event_type: str
    namespace: str | None
    object_id: str | None
    version: int | None
    payload: str
    status: str = PENDING
    last_error: str | None = None

    @property
    def order_key(self) -> str | None:
        if self.object_id is None:
            return None
        return f"{self.namespace}\x1f{self.object_id}"


@dataclass(frozen=True)
class Claimed:
    seq: int
    id: str
    endpoint_id: str
    payload: str
    attempts: int  # including this one


async def insert_many(conn: AsyncConnection, messages: Sequence[NewMessage], now_ms: int) -> None:
    if not messages:
        return
    await conn.execute(
        sql(
            "INSERT INTO webhook_messages (id, team_id, endpoint_id, event_type, namespace, object_id, version, "
            "order_key, payload, status, attempts, next_attempt_ms, last_error, created_at_ms) VALUES (:id, "
            ":team_id, :endpoint_id, :event_type, :namespace, :object_id, :version, :order_key, :payload, "
            ":status, :attempts, :next_attempt_ms, :last_error, :created_at_ms)"
        ),
        [
            {
                "id": m.id,
                "team_id": m.team_id,
                "endpoint_id": m.endpoint_id,
                "event_type": m.event_type,
                "namespace": m.namespace,
                "object_id": m.object_id,
                "version": m.version,
                "order_key": m.order_key,
                "payload": m.payload,
                "status": m.status,
                "attempts": 0,
                "next_attempt_ms": now_ms,
                "last_error": m.last_error,
                "created_at_ms": now_ms,
            }
            for m in messages
        ],
    )


async def claim(
    conn: AsyncConnection, token: str, limit: int, now_ms: int, lease_ms: int, endpoint_id: str
) -> list[Claimed]:
    """Take up to `limit` due messages of one endpoint, each the head of its object's line."""
    if limit <= 0:
        return []
    # PostgreSQL: `seq = ANY(ARRAY(…))`, so that the generic plan of this prepared statement
    # cannot pick a sequential scan of the whole outbox (as store/queue.py's claim).
    pg = conn.dialect.name == "postgresql"
    head, skip_locked, tail = ("= ANY(ARRAY(", " FOR UPDATE OF m SKIP LOCKED", "))") if pg else ("IN (", "", ")")
    rows = await conn.execute(
        sql(
            "UPDATE webhook_messages SET next_attempt_ms = :lease_until, lock_token = :token, "
            f"attempts = attempts + 1 WHERE seq {head}SELECT m.seq FROM webhook_messages m "
            "WHERE m.endpoint_id = :ep AND m.status = 'pending' AND m.next_attempt_ms <= :now "
            "AND (m.order_key IS NULL OR NOT EXISTS (SELECT 1 FROM webhook_messages p "
            "WHERE p.endpoint_id = m.endpoint_id AND p.order_key = m.order_key AND p.status = 'pending' "
            f"AND p.seq < m.seq)) ORDER BY m.next_attempt_ms, m.seq LIMIT :limit{skip_locked}{tail} "
            "RETURNING seq, id, endpoint_id, payload, attempts"
        ),
        {"lease_until": now_ms + lease_ms, "token": token, "now": now_ms, "limit": limit, "ep": endpoint_id},
    )
    return sorted(
        (Claimed(r.seq, r.id, r.endpoint_id, r.payload or "{}", r.attempts) for r in rows), key=lambda c: c.seq
    )


@dataclass(frozen=True)
class AttemptResult:
    seq: int
    endpoint_id: str
    attempt: int
    started_at_ms: int
    status_code: int | None
    latency_ms: int
    error: str | None
    response_excerpt: str
    new_status: str  # what the message becomes
    next_attempt_ms: int


async def record_attempts(
    conn: AsyncConnection, token_by_seq: dict[int, str], results: Sequence[AttemptResult]
) -> set[int]:
    """Write the attempts and move each message on; only messages this claim still holds.

    One UPDATE for the whole batch (one per message made recording the limit of delivery)."""
    if not results:
        return set()
    ordered = sorted(results, key=lambda r: r.seq)
    columns = (
        [r.seq for r in ordered],
        [token_by_seq[r.seq] for r in ordered],
        [r.new_status for r in ordered],
        [r.next_attempt_ms for r in ordered],
        [r.status_code for r in ordered],
        [r.error for r in ordered],
        [r.started_at_ms for r in ordered],
    )
    if conn.dialect.name == "postgresql":
        source = (
            "unnest(CAST(:seqs AS bigint[]), CAST(:tokens AS text[]), CAST(:statuses AS text[]), "
            "CAST(:nexts AS bigint[]), CAST(:codes AS int[]), CAST(:errors AS text[]), CAST(:starts AS bigint[])) "
            "AS v(seq, token, status, next, code, error, started)"
        )
        params = dict(zip(("seqs", "tokens", "statuses", "nexts", "codes", "errors", "starts"), columns, strict=True))
    else:
        source = (
            "(SELECT json_extract(value, '$[0]') AS seq, json_extract(value, '$[1]') AS token, "
            "json_extract(value, '$[2]') AS status, json_extract(value, '$[3]') AS next, "
            "json_extract(value, '$[4]') AS code, json_extract(value, '$[5]') AS error, "
            "json_extract(value, '$[6]') AS started FROM json_each(:rows)) AS v"
        )
        params = {"rows": jsondoc.dump([list(row) for row in zip(*columns, strict=True)])}
    rows = await conn.execute(
        sql(
            "UPDATE webhook_messages SET status = v.status, next_attempt_ms = v.next, lock_token = NULL, "
            "last_status_code = v.code, last_error = v.error, delivered_at_ms = CASE WHEN v.status = 'delivered' "
            f"THEN v.started ELSE webhook_messages.delivered_at_ms END FROM {source} "
            "WHERE webhook_messages.seq = v.seq AND webhook_messages.lock_token = v.token "
            "RETURNING webhook_messages.seq"
        ),
        params,
    )
    held = {row.seq for row in rows}
    kept = [r for r in ordered if r.seq in held]
    if kept:
        await conn.execute(
            sql(
                "INSERT INTO webhook_attempts (message_seq, endpoint_id, attempt, started_at_ms, status_code, "
                "latency_ms, error, response_excerpt) VALUES (:seq, :ep, :attempt, :started, :code, :latency, "
                ":error, :excerpt)"
            ),
            [
                {
                    "seq": r.seq,
                    "ep": r.endpoint_id,
                    "attempt": r.attempt,
                    "started": r.started_at_ms,
                    "code": r.status_code,
                    "latency": r.latency_ms,
                    "error": r.error,
                    "excerpt": r.response_excerpt,
                }
                for r in kept
            ],
        )
    return held


async def requeue(
    conn: AsyncConnection, team_id: str, *, message_id: str | None = None, endpoint_id: str | None = None,
    since_ms: int | None = None, now_ms: int,
) -> int:  # fmt: skip
    """Send messages again: one message (resend), or an endpoint's failed messages since a time (recover)."""
    conditions = ["team_id = :team"]
    params: dict[str, object] = {"team": team_id, "now": now_ms}
    if message_id is not None:
        conditions.append("id = :mid")
        params["mid"] = message_id
    if endpoint_id is not None:
        conditions += ["endpoint_id = :ep", "status = 'failed'", "created_at_ms >= :since"]
        params.update(ep=endpoint_id, since=since_ms or 0)
    result = await conn.execute(
        sql(
            "UPDATE webhook_messages SET status = 'pending', next_attempt_ms = :now, lock_token = NULL "
            "WHERE payload IS NOT NULL AND " + " AND ".join(conditions)
        ),
        params,
    )
    return result.rowcount


async def fail_pending_of_endpoint(conn: AsyncConnection, endpoint_id: str, reason: str) -> None:
    await conn.execute(
        sql(
            "UPDATE webhook_messages SET status = 'failed', last_error = :reason, lock_token = NULL "
            "WHERE endpoint_id = :ep AND status = 'pending'"
        ),
        {"ep": endpoint_id, "reason": reason},
    )


async def delete_for_endpoint(conn: AsyncConnection, endpoint_id: str) -> None:
    await conn.execute(
        sql(
            "DELETE FROM webhook_attempts WHERE message_seq IN "
            "(SELECT seq FROM webhook_messages WHERE endpoint_id = :ep)"
        ),
        {"ep": endpoint_id},
    )
    await conn.execute(sql("DELETE FROM webhook_messages WHERE endpoint_id = :ep"), {"ep": endpoint_id})


async def prune(conn: AsyncConnection, before_ms: int, limit: int = 5000) -> int:
    """Forget delivered and failed messages (and their attempts) created before `before_ms`."""
    rows = await conn.execute(
        sql(
            "SELECT seq FROM webhook_messages WHERE status <> 'pending' AND created_at_ms < :before "
            "ORDER BY seq LIMIT :limit"
        ),
        {"before": before_ms, "limit": limit},
    )
    seqs = [row.seq for row in rows]
    if not seqs:
        return 0
    for table, column in (("webhook_attempts", "message_seq"), ("webhook_messages", "seq")):
        await conn.execute(
            sql(f"DELETE FROM {table} WHERE {column} IN :seqs").bindparams(sa.bindparam("seqs", expanding=True)),
            {"seqs": seqs},
        )
    return len(seqs)


async def due_endpoints(conn: AsyncConnection, now_ms: int) -> list[str]:
    """Enabled endpoints that have a message due now."""
    rows = await conn.execute(
        sql(
            "SELECT DISTINCT m.endpoint_id FROM webhook_messages m JOIN webhook_endpoints e ON e.id = m.endpoint_id "
            "WHERE m.status = 'pending' AND m.next_attempt_ms <= :now AND e.enabled"
        ),
        {"now": now_ms},
    )
    return [row.endpoint_id for row in rows]
