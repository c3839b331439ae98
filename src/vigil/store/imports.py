"""Imports: the upload and the ingestion cursor, rejected lines, result files, generated secrets.

The cursor (`lines_read`, `bytes_read`) and the counters move in the same transaction as the
chunk of objects they cover: that is what makes a resumed import exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.store import jsondoc
from vigil.store.schema import import_errors, imports, result_files


@dataclass(frozen=True)
class ImportRecord:
    request_id: str
    team_id: str
    namespace: str
    object_key: str
    expires_at_ms: int
    uploaded_at_ms: int | None
    bytes_uploaded: int | None
    lines_read: int
    bytes_read: int
    lines_accepted: int
    lines_rejected: int
    read_at_ms: int | None
    created_at_ms: int


@dataclass(frozen=True)
class LineError:
    line: int  # 1-based
    object_id: str | None
    problem: str


async def insert(
    conn: AsyncConnection, request_id: str, team_id: str, namespace: str, object_key: str, expires_at_ms: int, now: int
) -> None:
    await conn.execute(
        imports.insert().values(
            request_id=request_id,
            team_id=team_id,
            namespace=namespace,
            object_key=object_key,
            expires_at_ms=expires_at_ms,
            lines_read=0,
            bytes_read=0,
            lines_accepted=0,
            lines_rejected=0,
            failures=0,
            created_at_ms=now,
            updated_at_ms=now,
        )
    )


async def get(conn: AsyncConnection, request_id: str) -> ImportRecord | None:
    row = (await conn.execute(sa.select(imports).where(imports.c.request_id == request_id))).first()
    if row is None:
        return None
    return ImportRecord(
        row.request_id,
        row.team_id,
        row.namespace,
        row.object_key,
        row.expires_at_ms,
        row.uploaded_at_ms,
        row.bytes_uploaded,
        row.lines_read,
        row.bytes_read,
        row.lines_accepted,
        row.lines_rejected,
        row.read_at_ms,
        row.created_at_ms,
    )


async def mark_uploaded(conn: AsyncConnection, request_id: str, size: int | None, now: int) -> bool:
    """Record the upload as complete; False if it already was (an upload URL is used once)."""
    result = await conn.execute(
        imports.update()
        .where(imports.c.request_id == request_id, imports.c.uploaded_at_ms.is_(None))
        .values(uploaded_at_ms=now, bytes_uploaded=size, updated_at_ms=now)
    )
    return result.rowcount == 1


async def advance(
    conn: AsyncConnection,
    request_id: str,
    lines_read: int,
    bytes_read: int,
    accepted: int,
    rejected: int,
    finished: bool,
    now: int,
) -> None:
    """Move the cursor to the end of a committed chunk and add the chunk's counts."""
    await conn.execute(
        imports.update()
        .where(imports.c.request_id == request_id)
        .values(
            lines_read=lines_read,
            bytes_read=bytes_read,
            lines_accepted=imports.c.lines_accepted + accepted,
            lines_rejected=imports.c.lines_rejected + rejected,
            read_at_ms=now if finished else None,
            updated_at_ms=now,
        )
    )


async def count_failure(conn: AsyncConnection, request_id: str, now: int) -> int:
    """Count one failed attempt at a chunk; returns the count so far."""
    await conn.execute(
        imports.update()
        .where(imports.c.request_id == request_id)
        .values(failures=imports.c.failures + 1, updated_at_ms=now)
    )
    row = (await conn.execute(sa.select(imports.c.failures).where(imports.c.request_id == request_id))).one()
    return int(row.failures)


async def insert_errors(conn: AsyncConnection, request_id: str, errors: Sequence[LineError]) -> None:
    if errors:
        await conn.execute(
            import_errors.insert(),
            [
                {"request_id": request_id, "line": e.line, "object_id": e.object_id, "problem": e.problem}
                for e in errors
            ],
        )


async def errors_after(conn: AsyncConnection, request_id: str, after_line: int, limit: int) -> list[LineError]:
    """Rejected lines in line order, from the one after `after_line` (keyset paging)."""
    rows = await conn.execute(
        sa.select(import_errors.c.line, import_errors.c.object_id, import_errors.c.problem)
        .where(import_errors.c.request_id == request_id, import_errors.c.line > after_line)
        .order_by(import_errors.c.line)
        .limit(limit)
    )
    return [LineError(row.line, row.object_id, row.problem) for row in rows]


@dataclass(frozen=True)
class ResultRow:
    index: int  # request_idx: the array index of an add, the 0-based line of an import
    object_id: str
    version: int
    status: str | None
    output: Any
    metadata: Any


async def results_after(conn: AsyncConnection, request_id: str, after_index: int, limit: int) -> list[ResultRow]:
    """A page of a request's items with their decisions, in request order (keyset paging)."""
    rows = await conn.execute(
        sa.text(
            "SELECT v.request_idx, v.object_id, v.version, d.status, d.output, d.metadata "
            "FROM object_versions v LEFT JOIN decisions d ON d.team_id = v.team_id "
            "AND d.namespace = v.namespace AND d.object_id = v.object_id AND d.version = v.version "
            "WHERE v.request_id = :rid AND v.request_idx > :after ORDER BY v.request_idx LIMIT :limit"
        ),
        {"rid": request_id, "after": after_index, "limit": limit},
    )
    return [
        ResultRow(
            row.request_idx,
            row.object_id,
            row.version,
            row.status,
            None if row.output is None else jsondoc.load(row.output),
            None if row.metadata is None else jsondoc.load(row.metadata),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class ResultFile:
    object_key: str
    line_count: int


async def get_result_file(conn: AsyncConnection, request_id: str) -> ResultFile | None:
    row = (
        await conn.execute(
            sa.select(result_files.c.object_key, result_files.c.line_count).where(
                result_files.c.request_id == request_id
            )
        )
    ).first()
    return None if row is None else ResultFile(row.object_key, row.line_count)


async def put_result_file(conn: AsyncConnection, request_id: str, object_key: str, line_count: int, now: int) -> None:
    """Record a built results file; if another process recorded it first, theirs stands (same content)."""
    await conn.execute(
        sa.text(
            "INSERT INTO result_files (request_id, object_key, line_count, created_at_ms) "
            "VALUES (:rid, :key, :n, :now) ON CONFLICT (request_id) DO NOTHING"
        ),
        {"rid": request_id, "key": object_key, "n": line_count, "now": now},
    )


async def get_or_create_secret(conn: AsyncConnection, name: str, candidate: str, now: int) -> str:
    """The stored secret of that name; `candidate` becomes it if there is none yet (first writer wins)."""
    await conn.execute(
        sa.text(
            "INSERT INTO server_secrets (name, value, created_at_ms) VALUES (:name, :value, :now) "
            "ON CONFLICT (name) DO NOTHING"
        ),
        {"name": name, "value": candidate, "now": now},
    )
    row = (await conn.execute(sa.text("SELECT value FROM server_secrets WHERE name = :name"), {"name": name})).one()
    return str(row.value)


# The import's job in the queue (kind "import"): the runner keeps its lease alive chunk by chunk,
# and a finished upload wakes it. Both touch only the import job of one request.


async def extend_lease(conn: AsyncConnection, job_id: int, token: str, until_ms: int) -> bool:
    """Move the lease on; False if this claim no longer holds the job (another worker took it over).

    Run first in a chunk's transaction: the row lock it takes fences the chunk against a takeover."""
    result = await conn.execute(
        sa.text("UPDATE jobs SET lease_until_ms = :until WHERE id = :id AND lock_token = :token"),
        {"until": until_ms, "id": job_id, "token": token},
    )
    return result.rowcount == 1


async def wake_job(conn: AsyncConnection, request_id: str, now_ms: int) -> None:
    """Make the import job of this request claimable now (unless a worker holds it)."""
    await conn.execute(
        sa.text(
            "UPDATE jobs SET run_after_ms = :now WHERE kind = 'import' AND request_id = :rid AND lock_token IS NULL"
        ),
        {"now": now_ms, "rid": request_id},
    )


async def upload_finished(conn: AsyncConnection, request_id: str) -> bool:
    """Whether the upload is complete, reading the row under lock (PostgreSQL) so that a PUT
    finishing at this moment is either seen here or finds the job released and wakes it."""
    lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    row = (
        await conn.execute(
            sa.text(f"SELECT uploaded_at_ms FROM imports WHERE request_id = :rid{lock}"), {"rid": request_id}
        )
    ).first()
    return row is not None and row.uploaded_at_ms is not None
