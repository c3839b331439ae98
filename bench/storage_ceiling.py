"""Storage ceiling: the rows Vigil's ingest writes, written raw, with Vigil's driver and durability.

    .venv/bin/python bench/storage_ceiling.py --url postgresql://postgres@127.0.0.1:5432/vigil_bench_ceiling \
        --batch 1000 --concurrency 4 --duration 10 --warmup 2

The database must already have Vigil's schema (`vigil migrate`; bench/run.py prepares a
scratch database for it). Per batch, one transaction writes what one accepted
`POST /v1/data/{ns}` of `batch` new objects writes: the latest state in `objects` (upsert
that bumps the version), one history row per object in `object_versions`, the `requests`
row, and one evaluation job per object in `jobs`. No HTTP, no validation, no SQLAlchemy:
pre-built JSON text straight to the driver.

- PostgreSQL: asyncpg (Vigil's driver), one statement of data-modifying CTEs over
  `unnest` arrays per batch, autocommit (one commit per batch), `synchronous_commit` as the
  server has it (on: checked and reported). `--concurrency` connections write at once.
- SQLite: aiosqlite (Vigil's driver), WAL, `synchronous=FULL`, `BEGIN IMMEDIATE`, one
  writer (SQLite has one), `executemany` for objects and history, set-based jobs.

Prints one JSON line: objects/s, transactions, transaction p50/p99, durability settings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import payload  # noqa: E402

TEAM = "team_bench_ceiling"
NAMESPACE = "products"

PG_BATCH = """
WITH t AS (
    SELECT * FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(object_id, data, idx)
), o AS (
    INSERT INTO objects (team_id, namespace, object_id, version, data, created_at_ms, updated_at_ms)
    SELECT $3, $4, t.object_id, 1, CAST(t.data AS jsonb), $5, $5 FROM t ORDER BY t.object_id
    ON CONFLICT (team_id, namespace, object_id) DO UPDATE SET version = objects.version + 1,
        data = excluded.data, updated_at_ms = excluded.updated_at_ms
    RETURNING object_id, version, data
), v AS (
    INSERT INTO object_versions (team_id, namespace, object_id, version, data, request_id, request_idx,
        created_at_ms)
    SELECT $3, $4, o.object_id, o.version, o.data, $6, t.idx - 1, $5 FROM o JOIN t USING (object_id)
), r AS (
    INSERT INTO requests (id, team_id, namespace, kind, status, total, pending, failed, created_at_ms,
        updated_at_ms)
    VALUES ($6, $3, $4, 'add', 'queued', $7, $7, 0, $5, $5)
)
INSERT INTO jobs (kind, team_id, namespace, object_id, version, request_id, run_after_ms, attempts,
    created_at_ms)
SELECT 'evaluate', $3, $4, o.object_id, o.version, $6, $5, 0, $5 FROM o
"""

SQLITE_OBJECTS = (
    "INSERT INTO objects (team_id, namespace, object_id, version, data, created_at_ms, updated_at_ms) "
    "VALUES (?, ?, ?, 1, ?, ?, ?) ON CONFLICT (team_id, namespace, object_id) DO UPDATE SET "
    "version = objects.version + 1, data = excluded.data, updated_at_ms = excluded.updated_at_ms"
)
SQLITE_VERSIONS = (
    "INSERT INTO object_versions (team_id, namespace, object_id, version, data, request_id, request_idx, "
    "created_at_ms) SELECT team_id, namespace, object_id, version, data, ?, ?, ? FROM objects "
    "WHERE team_id = ? AND namespace = ? AND object_id = ?"
)
SQLITE_REQUEST = (
    "INSERT INTO requests (id, team_id, namespace, kind, status, total, pending, failed, created_at_ms, "
    "updated_at_ms) VALUES (?, ?, ?, 'add', 'queued', ?, ?, 0, ?, ?)"
)
SQLITE_JOBS = (
    "INSERT INTO jobs (kind, team_id, namespace, object_id, version, request_id, run_after_ms, attempts, "
    "created_at_ms) SELECT 'evaluate', team_id, namespace, object_id, version, request_id, ?, 0, ? "
    "FROM object_versions WHERE request_id = ?"
)


def rows(prefix: str, worker: int, n: int, batch: int) -> tuple[list[str], list[str]]:
    ids = [payload.object_id(prefix, worker, n, i) for i in range(batch)]
    return ids, [payload.object_json(oid, n) for oid in ids]


async def pg_run(url: str, prefix: str, batch: int, concurrency: int, seconds: float) -> tuple[int, list[float]]:
    import asyncpg

    conns = [await asyncpg.connect(url) for _ in range(concurrency)]
    latencies: list[float] = []
    total = 0
    deadline = time.perf_counter() + seconds

    async def writer(number: int, conn: asyncpg.Connection) -> None:
        nonlocal total
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            ids, datas = rows(prefix, number, n, batch)
            now = int(time.time() * 1000)
            started = time.perf_counter()
            await conn.execute(PG_BATCH, ids, datas, TEAM, NAMESPACE, now, f"req_{prefix}_{number}_{n}", batch)
            latencies.append(time.perf_counter() - started)
            total += batch

    try:
        await asyncio.gather(*(writer(i, c) for i, c in enumerate(conns)))
    finally:
        for conn in conns:
            await conn.close()
    return total, latencies


async def pg_settings(url: str) -> dict[str, str]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return {
            name: await conn.fetchval(f"SHOW {name}") for name in ("synchronous_commit", "fsync", "wal_sync_method")
        }
    finally:
        await conn.close()


def sqlite_path(url: str) -> str:
    return url.split(":///", 1)[1]


async def sqlite_connect(url: str):  # type: ignore[no-untyped-def]
    import aiosqlite

    db = await aiosqlite.connect(sqlite_path(url), isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000", "foreign_keys=ON"):
        await db.execute(f"PRAGMA {pragma}")
    return db


async def sqlite_run(url: str, prefix: str, batch: int, concurrency: int, seconds: float) -> tuple[int, list[float]]:
    db = await sqlite_connect(url)
    latencies: list[float] = []
    total = 0
    deadline = time.perf_counter() + seconds
    n = 0
    try:
        while time.perf_counter() < deadline:
            n += 1
            ids, datas = rows(prefix, 0, n, batch)
            now = int(time.time() * 1000)
            request_id = f"req_{prefix}_{n}"
            started = time.perf_counter()
            await db.execute("BEGIN IMMEDIATE")
            await db.executemany(
                SQLITE_OBJECTS,
                [(TEAM, NAMESPACE, oid, d, now, now) for oid, d in zip(ids, datas, strict=True)],
            )
            await db.executemany(
                SQLITE_VERSIONS, [(request_id, i, now, TEAM, NAMESPACE, oid) for i, oid in enumerate(ids)]
            )
            await db.execute(SQLITE_REQUEST, (request_id, TEAM, NAMESPACE, batch, batch, now, now))
            await db.execute(SQLITE_JOBS, (now, now, request_id))
            await db.execute("COMMIT")
            latencies.append(time.perf_counter() - started)
            total += batch
    finally:
        await db.close()
    return total, latencies


async def sqlite_settings(url: str) -> dict[str, str]:
    db = await sqlite_connect(url)
    try:
        out = {}
        for pragma in ("journal_mode", "synchronous"):
            async with db.execute(f"PRAGMA {pragma}") as cursor:
                out[pragma] = str((await cursor.fetchone())[0])
        out["synchronous"] = {"0": "OFF", "1": "NORMAL", "2": "FULL", "3": "EXTRA"}.get(out["synchronous"], "?")
        return out
    finally:
        await db.close()


async def measure(args: argparse.Namespace) -> dict:
    is_pg = args.url.startswith("postgres")
    run = pg_run if is_pg else sqlite_run
    concurrency = args.concurrency if is_pg else 1
    if args.warmup > 0:
        await run(args.url, args.prefix + "w", args.batch, concurrency, args.warmup)
    started = time.perf_counter()
    total, latencies = await run(args.url, args.prefix + "t", args.batch, concurrency, args.duration)
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float | None:
        if not latencies:
            return None
        return round(latencies[min(len(latencies) - 1, int(q / 100 * len(latencies)))] * 1000, 2)

    return {
        "backend": "postgresql" if is_pg else "sqlite",
        "driver": "asyncpg" if is_pg else "aiosqlite",
        "batch": args.batch,
        "concurrency": concurrency,
        "objects": total,
        "transactions": len(latencies),
        "seconds": round(elapsed, 3),
        "objects_per_s": round(total / elapsed, 1),
        "txn_p50_ms": pct(50),
        "txn_p99_ms": pct(99),
        "durability": await (pg_settings(args.url) if is_pg else sqlite_settings(args.url)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="postgresql://… or sqlite:///path, with Vigil's schema")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4, help="PostgreSQL connections writing at once")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--prefix", default="s")
    args = parser.parse_args()
    import uvloop

    print("STORAGEJSON " + json.dumps(uvloop.run(measure(args))), flush=True)


if __name__ == "__main__":
    main()
