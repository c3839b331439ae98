"""Bulk import benchmark: a generated 1,000,000-object JSONL file (~300 bytes an object) through
`vigil serve`, on SQLite and on PostgreSQL, beside the raw upsert ceiling of the same database.

    .venv/bin/python bench/import_bench.py                      # 1,000,000 objects, both databases
    .venv/bin/python bench/import_bench.py --objects 100000 --no-pg

For each database: a fresh database, `vigil migrate`, a key, then `vigil serve` (API and worker
in one process, default settings) as a real subprocess. The file is uploaded to the upload URL
with a streaming PUT, and the import is polled until it succeeds. Reported:

- ingest objects/s: lines committed per second, from the upload's completion to the last chunk's
  commit (`imports.uploaded_at_ms` → `imports.read_at_ms`); evaluation runs at the same time;
- end-to-end objects/s: upload complete → `succeeded` (every object evaluated, results file built);
- peak RSS of the Vigil process (VmHWM from /proc), which must stay under 300 MB;
- raw upsert ceiling, measured right after on the same database with Vigil's driver and
  durability, one connection, transactions of the import's chunk size (1,000): (a) objects upsert
  alone, (b) what an import writes per object: objects upsert + history row + evaluation job.

PostgreSQL: creates and drops only the database `vigil_import_bench` on 127.0.0.1.
Results go to bench/results/import-<time>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
VIGIL = [sys.executable, "-m", "vigil.cli"]
PG_DB = "vigil_import_bench"
RSS_LIMIT_MB = 300
CEILING_CHUNK = 1000


def make_file(path: Path, count: int) -> int:
    """`count` lines of ~300 bytes: new ids, a few text fields, a number, a nested object."""
    filler = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor"
    with path.open("wb") as out:
        for n in range(count):
            obj = {
                "id": f"product_{n:08d}",
                "title": f"Vintage item number {n}",
                "description": filler[: 60 + n % 20],
                "price": round(5 + (n % 1000) / 7, 2),
                "seller": {"id": f"user_{n % 50_000:06d}", "country": "FR"},
                "tags": ["vintage", "camera" if n % 2 else "lens"],
                "images": [f"https://img.example.com/{n}.jpg"],
            }
            out.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")
    return path.stat().st_size


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def vigil_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update({"VIGIL_DATABASE_URL": database_url, "VIGIL_LOG_LEVEL": "warning", **extra})
    return env


def rss_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def pg_admin(admin_url: str, sql: str) -> None:
    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def wait_ready(base: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("vigil did not start")
        time.sleep(0.1)


def import_file(
    base: str,
    key: str,
    data: Path,
    count: int,
    pids: list[int],
    *,
    name: str = "import",
    poll_s: float = 1.0,
    read_timeout_s: float | None = None,
    finish_timeout_s: float | None = None,
    alive: Callable[[], bool] = lambda: True,
    say: Callable[[str], None] = lambda message: print(message, flush=True),
) -> dict:
    """Import `data` (`count` lines) into the namespace `products` of the Vigil at `base`: ask for an
    upload URL, stream the file to it, then poll the request until it succeeds or fails, sampling the
    RSS of `pids` (Vigil's processes). With `read_timeout_s`, gives up when the lines are not all
    committed that long after the upload; with `finish_timeout_s`, stops watching that long after the
    last line was committed (status then `ingesting`). Returns the request id, the status, the
    upload time, when the last line was committed and when the import finished (seconds after the
    upload, as seen by polling), the peak RSS seen and the poll samples."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        created = client.post("/v1/data/products/requests/upload-url").json()
        request_id = created["requestId"]

        def chunks():
            with data.open("rb") as handle:
                while chunk := handle.read(1024 * 1024):
                    yield chunk

        started = time.monotonic()
        put = httpx.put(
            created["upload_url"], content=chunks(), headers={"Content-Length": str(data.stat().st_size)}, timeout=900
        )
        put.raise_for_status()
        uploaded = time.monotonic()
        say(f"[{name}] uploaded {data.stat().st_size / 1e6:.0f} MB in {uploaded - started:.1f} s")
        samples = []
        peak_seen = 0.0
        read_done_s = None
        finished_s = None
        path = f"/v1/data/products/requests/{request_id}/results/download-url"
        while True:
            peak_seen = max([peak_seen, *(rss_mb(pid, "VmRSS") for pid in pids)])
            status = client.get(path).json()
            now = time.monotonic() - uploaded
            samples.append({"t": round(now, 1), "lines_read": status.get("lines_read"), "rss_mb": round(peak_seen)})
            if read_done_s is None and status.get("lines_read") == count:
                read_done_s = now
                say(f"[{name}] all {count} lines committed after {now:.1f} s")
            if status["status"] in ("succeeded", "failed"):
                finished_s = now
                break
            if read_done_s is None and read_timeout_s is not None and now > read_timeout_s:
                say(f"[{name}] gave up: lines not all committed {read_timeout_s:.0f} s after the upload")
                break
            if read_done_s is not None and finish_timeout_s is not None and now - read_done_s > finish_timeout_s:
                state = status["status"]
                say(f"[{name}] stopped watching {finish_timeout_s:.0f} s after the last line (status {state})")
                break
            time.sleep(poll_s)
            if not alive():
                raise RuntimeError("a Vigil process exited during the import; see its log")
    if finished_s is not None:
        say(f"[{name}] {status['status']} after {finished_s:.1f} s")
    return {
        "request_id": request_id,
        "status": status["status"],
        "lines_read": status.get("lines_read"),
        "lines_accepted": status.get("lines_accepted"),
        "upload_s": round(uploaded - started, 1),
        "read_done_s": None if read_done_s is None else round(read_done_s, 1),
        "finished_s": None if finished_s is None else round(finished_s, 1),
        "rss_seen_mb": round(peak_seen, 1),
        "samples": samples,
    }


def run_import(name: str, database_url: str, workdir: Path, data: Path, count: int) -> dict:
    port = free_port()
    # Uploads and result files in the scratch folder (PostgreSQL's default is .vigil/blobs here).
    env = vigil_env(
        database_url, VIGIL_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", VIGIL_BLOB_URL=str(workdir / f"blobs-{name}")
    )
    subprocess.run([*VIGIL, "migrate"], env=env, check=True, capture_output=True)
    keys = subprocess.run([*VIGIL, "keys", "create", "--team", "bench"], env=env, check=True, capture_output=True)
    key = keys.stdout.decode().strip().splitlines()[-1]
    log = open(workdir / f"serve-{name}.log", "wb")  # noqa: SIM115
    serve = subprocess.Popen([*VIGIL, "serve", "--port", str(port)], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        run = import_file(base, key, data, count, [serve.pid], name=name, alive=lambda: serve.poll() is None)
        hwm = rss_mb(serve.pid, "VmHWM")
        print(f"[{name}] peak RSS {hwm:.0f} MB", flush=True)
    finally:
        serve.terminate()
        serve.wait(60)
        log.close()
    times = db_times(database_url, run["request_id"])
    ingest_s = (times["read_at_ms"] - times["uploaded_at_ms"]) / 1000
    finished_s = run["finished_s"]
    return {
        "status": run["status"],
        "objects": count,
        "lines_accepted": run["lines_accepted"],
        "upload_s": run["upload_s"],
        "ingest_s": round(ingest_s, 1),
        "ingest_objects_s": round(count / ingest_s),
        "end_to_end_s": finished_s,
        "end_to_end_objects_s": round(count / finished_s),
        "peak_rss_mb": round(hwm, 1),
        "rss_under_limit": hwm < RSS_LIMIT_MB,
        "samples": run["samples"],
    }


def db_times(database_url: str, request_id: str) -> dict:
    sql = f"SELECT uploaded_at_ms, read_at_ms FROM imports WHERE request_id = '{request_id}'"
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url.split(":///", 1)[1])
        row = conn.execute(sql).fetchone()
        conn.close()
        return {"uploaded_at_ms": row[0], "read_at_ms": row[1]}
    import asyncpg

    async def go() -> dict:
        conn = await asyncpg.connect(database_url)
        try:
            return dict(await conn.fetchrow(sql))
        finally:
            await conn.close()

    return asyncio.run(go())


# --- the raw upsert ceiling ----------------------------------------------------------------------


def _rows(start: int, count: int) -> list[tuple[str, str]]:
    doc = json.dumps({"title": "x" * 200, "price": 1.5, "tags": ["a", "b"]})
    return [(f"ceiling_{n:08d}", doc) for n in range(start, start + count)]


def sqlite_ceiling(path: str, count: int, full: bool) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    base = 0 if full else count
    started = time.perf_counter()
    for start in range(base, base + count, CEILING_CHUNK):
        rows = _rows(start, CEILING_CHUNK)
        now = int(time.time() * 1000)
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO objects (team_id, namespace, object_id, version, data, created_at_ms, updated_at_ms) "
            "VALUES ('t', 'ceiling', ?, 1, ?, ?, ?) ON CONFLICT (team_id, namespace, object_id) DO UPDATE SET "
            "version = objects.version + 1, data = excluded.data, updated_at_ms = excluded.updated_at_ms",
            [(oid, doc, now, now) for oid, doc in rows],
        )
        if full:
            conn.executemany(
                "INSERT INTO object_versions (team_id, namespace, object_id, version, data, request_id, request_idx, "
                "created_at_ms) VALUES ('t', 'ceiling', ?, 1, ?, 'req_ceiling', ?, ?)",
                [(oid, doc, start + i, now) for i, (oid, doc) in enumerate(rows)],
            )
            conn.executemany(
                "INSERT INTO jobs (kind, team_id, namespace, object_id, version, request_id, run_after_ms, attempts, "
                "created_at_ms) VALUES ('ceiling', 't', 'ceiling', ?, 1, 'req_ceiling', ?, 0, ?)",
                [(oid, now, now) for oid, _ in rows],
            )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return count / elapsed


def pg_ceiling(url: str, count: int, full: bool) -> float:
    import asyncpg

    upsert = (
        "INSERT INTO objects (team_id, namespace, object_id, version, data, created_at_ms, updated_at_ms) "
        "SELECT 't', 'ceiling', o, 1, CAST(d AS jsonb), $3, $3 FROM unnest($1::text[], $2::text[]) AS t(o, d) "
        "ORDER BY o ON CONFLICT (team_id, namespace, object_id) DO UPDATE SET version = objects.version + 1, "
        "data = excluded.data, updated_at_ms = excluded.updated_at_ms"
    )
    versions = (
        "INSERT INTO object_versions (team_id, namespace, object_id, version, data, request_id, request_idx, "
        "created_at_ms) SELECT 't', 'ceiling', o, 1, CAST(d AS jsonb), 'req_ceiling', i, $4 "
        "FROM unnest($1::text[], $2::text[], $3::int[]) AS t(o, d, i)"
    )
    jobs = (
        "INSERT INTO jobs (kind, team_id, namespace, object_id, version, request_id, run_after_ms, attempts, "
        "created_at_ms) SELECT 'ceiling', 't', 'ceiling', o, 1, 'req_ceiling', $2, 0, $2 "
        "FROM unnest($1::text[]) AS t(o)"
    )

    async def go() -> float:
        conn = await asyncpg.connect(url)
        base = 0 if full else count
        try:
            started = time.perf_counter()
            for start in range(base, base + count, CEILING_CHUNK):
                rows = _rows(start, CEILING_CHUNK)
                ids, docs = [r[0] for r in rows], [r[1] for r in rows]
                now = int(time.time() * 1000)
                async with conn.transaction():
                    await conn.execute(upsert, ids, docs, now)
                    if full:
                        await conn.execute(versions, ids, docs, list(range(start, start + len(ids))), now)
                        await conn.execute(jobs, ids, now)
            return count / (time.perf_counter() - started)
        finally:
            await conn.close()

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--ceiling-objects", type=int, default=200_000)
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--pg-url", default=os.environ.get("VIGIL_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vigil-import-bench-"))
    report: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%S"), "objects": options.objects, "runs": {}}
    try:
        data = workdir / "objects.jsonl"
        size = make_file(data, options.objects)
        report["file_bytes"] = size
        print(f"generated {options.objects} objects, {size / 1e6:.0f} MB ({size / options.objects:.0f} B each)")
        backends = []
        if not options.no_sqlite:
            backends.append(("sqlite", f"sqlite:///{workdir / 'vigil.db'}"))
        if not options.no_pg:
            host = options.pg_url.split("@")[-1].split("/")[0].split(":")[0]
            if host not in ("127.0.0.1", "localhost"):
                raise SystemExit("--pg-url must point at 127.0.0.1")
            pg_admin(options.pg_url, f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
            pg_admin(options.pg_url, f'CREATE DATABASE "{PG_DB}"')
            backends.append(("postgresql", options.pg_url.rsplit("/", 1)[0] + f"/{PG_DB}"))
        for name, url in backends:
            run = run_import(name, url, workdir, data, options.objects)
            if name == "sqlite":
                path = url.split(":///", 1)[1]
                run["ceiling_upsert_objects_s"] = round(sqlite_ceiling(path, options.ceiling_objects, False))
                run["ceiling_import_rows_objects_s"] = round(sqlite_ceiling(path, options.ceiling_objects, True))
            else:
                run["ceiling_upsert_objects_s"] = round(pg_ceiling(url, options.ceiling_objects, False))
                run["ceiling_import_rows_objects_s"] = round(pg_ceiling(url, options.ceiling_objects, True))
            report["runs"][name] = run
        if not options.no_pg:
            pg_admin(options.pg_url, f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
    finally:
        logs = ROOT / "bench" / "results" / f"import-logs-{time.strftime('%Y%m%d-%H%M%S')}"
        logs.mkdir(parents=True, exist_ok=True)
        for log in workdir.glob("*.log"):
            shutil.copy(log, logs / log.name)
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(
        "| database | ingest objects/s | end-to-end objects/s | peak RSS | raw upsert ceiling | ceiling, import rows |"
    )
    print("|---|---|---|---|---|---|")
    for name, run in report["runs"].items():
        print(
            f"| {name} | {run['ingest_objects_s']:,} ({run['ingest_s']} s) | {run['end_to_end_objects_s']:,} "
            f"({run['end_to_end_s']} s) | {run['peak_rss_mb']} MB | {run['ceiling_upsert_objects_s']:,} | "
            f"{run['ceiling_import_rows_objects_s']:,} |"
        )
    out = ROOT / "bench" / "results" / f"import-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
