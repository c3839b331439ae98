"""Vigil's benchmark harness (issue #6). One command, from a fresh clone: `make bench`.

    .venv/bin/python bench/run.py [--quick] [--rounds N] [--only TOKENS] [--loadgen auto|wrk|python]

Starts Vigil as real processes (`vigil serve` on embedded SQLite; `vigil api` + `vigil worker`
on PostgreSQL), each with its own scratch database and its own key, drives it from a separate
load process on 127.0.0.1, and measures, interleaved round by round (so each ratio compares
runs made side by side):

  ceiling/http               bare ASGI app (bench/ceiling_app.py), same server settings
  {sqlite,pg}/a              single-object POST at saturation: req/s, p50, p99
  {sqlite,pg}/b100, b1000    batch POST of 100 / 1,000 objects: durable objects/s
  {sqlite,pg}/c0             POST → decision visible, open loop at half the (a) rate
  {sqlite,pg}/c0-100         the same at a fixed 100 POST/s
  {sqlite,pg}/c              POST → webhook received, starter policy, local receiver (bench/receiver.py):
                             the sustained rate (highest open-loop POST rate at which webhooks keep up and
                             the queues stay bounded, probed after a saturation run), then p50/p99 open
                             loop at half that rate
  {sqlite,pg}/d              bulk import of 1,000,000 objects (bench/import_bench.py): objects/s, peak RSS
                             (in the first round only with 1,000,000 objects: --import-rounds)
  ceiling/storage-{sqlite,pg}-{100,1000}   raw upsert of the same rows (bench/storage_ceiling.py)
  ceiling/import-{sqlite,pg}  raw upsert of an import's rows, 1,000 per transaction (bench/import_bench.py)

Every load run is bounded in time (warm-up + timed run; `--quick`: 1 + 3 s, one round).
Every scenario reports the median of its rounds (3 by default). Queue depth (rows in `jobs`)
is sampled once a second during every load run, and the worker's rate is counted from the
decisions written meanwhile. Results: a table on stdout, JSON in bench/results/.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import import_bench  # bench/import_bench.py: the import file, the upload-and-wait loop, the import ceilings

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
PY = sys.executable
NAMESPACE = "products"
INGEST_PATH = f"/v1/data/{NAMESPACE}"
DATA_TABLES = ("objects", "object_versions", "requests", "decisions", "jobs")
# Emptied too when the schema has them (webhooks came later: a --rev snapshot may lack them).
OPTIONAL_DATA_TABLES = ("webhook_messages", "webhook_attempts")
SCRATCH_DB = "vigil_bench"
SCRATCH_CEILING_DB = "vigil_bench_ceiling"
CLK_TCK = os.sysconf("SC_CLK_TCK")
STARTER_POLICY = ROOT / "policies" / "marketplace"
# (c): the events a decision produces; the receiver records each object version's first delivery.
DECISION_EVENTS = ["workflow.succeeded", "workflow.failed"]


STOP = threading.Event()  # set by SIGINT/SIGTERM: finish the current step, clean up, report


def _on_signal(signum: int, frame: object) -> None:
    if not STOP.is_set():
        STOP.set()
        log("stopping: cleaning up and writing what was measured")
        raise KeyboardInterrupt


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Options


@dataclass
class Options:
    rounds: int
    duration: int
    warmup: int
    drain_s: float
    only: list[str]
    loadgen: str
    wrk: str | None
    pg_admin_url: str | None
    conc_single: int = 64
    conc_b100: int = 16
    conc_b1000: int = 4
    storage_conc_pg: int = 4
    low_rate: int = 100
    profile: bool = False
    import_objects: int = 1_000_000
    import_finish_wait_s: float = 30  # (d): how long to watch for `succeeded` after the last line
    webhook_grace_s: float = 10  # (c): how long to wait for the last webhooks after the last POST
    webhook_probes: int = 3  # (c): open-loop probes searching for the sustained rate (--quick: 2)
    keep_up_share: float = 0.95  # (c): a probe keeps up when webhooks/s >= this share of its POST rate
    import_rounds: int = 1  # (d): in how many of the rounds (the first ones) the import runs

    def wanted(self, name: str) -> bool:
        return not self.only or any(token_matches(token, name) for token in self.only)


def token_matches(token: str, name: str) -> bool:
    """`--only` token → config name: the token must appear in the name between separators
    ('/', '-', or either end), so `c0` selects pg/c0 and pg/c0-100 but not pg/c, `pg/c` does not
    select pg/c0, and `b100` does not select b1000."""
    start = name.find(token)
    while start != -1:
        end = start + len(token)
        if (start == 0 or name[start - 1] in "/-") and (end == len(name) or name[end] in "/-"):
            return True
        start = name.find(token, start + 1)
    return False


# Set by --rev: a snapshot of src/ at that revision, put first on Vigil's PYTHONPATH.
SNAPSHOT: Path | None = None


def vigil_command() -> list[str]:
    exe = Path(PY).parent / "vigil"
    return [str(exe)] if exe.exists() and SNAPSHOT is None else [PY, "-m", "vigil.cli"]


def vigil_env(extra: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **extra}
    if SNAPSHOT is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SNAPSHOT), env.get("PYTHONPATH", "")) if p)
    return env


def snapshot_source(rev: str, into: Path) -> tuple[Path, str]:
    """Extract src/ at `rev` (git archive), so edits in the working tree during a run cannot
    change the code under test. Returns the folder to put on PYTHONPATH and the full commit."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"], capture_output=True, text=True
    )
    if commit.returncode != 0:
        sys.exit(f"--rev {rev}: not a commit of this repository")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit.stdout.strip(), "src"], capture_output=True)
    if archive.returncode != 0:
        sys.exit(f"git archive {rev} failed: {archive.stderr.decode()[-300:]}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into / "src", commit.stdout.strip()


def find_wrk(choice: str) -> str | None:
    """wrk from Debian's packages; installed with apt-get when missing and we are root."""
    if choice == "python":
        return None
    found = shutil.which("wrk")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is missing; installing it with apt-get (Debian package 'wrk')")
        for cmd in (
            ["apt-get", "install", "-y", "-qq", "wrk"],
            ["apt-get", "update", "-qq"],
            ["apt-get", "install", "-y", "-qq", "wrk"],
        ):
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            found = shutil.which("wrk")
            if found:
                break
    if found is None:
        if choice == "wrk":
            sys.exit("wrk is not installed and could not be installed; use --loadgen python")
        log("wrk unavailable: falling back to the Python load generator (bench/loadgen.py)")
    return found


def local_only(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit(f"refusing to benchmark against {host!r}: only 127.0.0.1 may be targeted")


# ---------------------------------------------------------------------------------------------
# Processes and CPU accounting


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    def __init__(self, name: str, cmd: list[str], env: dict[str, str], logdir: Path) -> None:
        self.name = name
        self.log_path = logdir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.popen = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 30) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name} did not stop in {timeout}s; killing pid {self.pid}")
                self.popen.kill()
                self.popen.wait(10)
        self._log.close()


def proc_cpu(pid: int, reaped_children: bool = False) -> float:
    """utime + stime of a process (all its threads); with `reaped_children`, also the CPU of
    its children that have exited and been waited for (PostgreSQL backends, via the postmaster)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


def child_pids(pid: int) -> list[int]:
    found = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    except OSError:
        pass
    return found


def proc_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def postgres_cpu() -> float:
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    total += proc_cpu(int(entry.name), reaped_children=True)
            except OSError:
                continue
    return total


def system_busy() -> float:
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in parts]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU seconds per party during one timed run (in % of one core over the wall time)."""

    def __init__(self, parties: dict[str, int], children: str = "load generator") -> None:
        self.parties = parties
        self.children = children  # what the harness's finished child processes were

    def __enter__(self) -> CpuMeter:
        self.t = time.perf_counter()
        self.start = {name: proc_cpu(pid) for name, pid in self.parties.items()}
        self.pg = postgres_cpu()
        self.load = children_cpu()
        self.busy = system_busy()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self.t
        # A process that ended meanwhile (a restarted worker child) reads 0: count nothing for it.
        used = {name: max(proc_cpu(pid) - self.start[name], 0.0) for name, pid in self.parties.items()}
        used["postgres"] = postgres_cpu() - self.pg
        used[self.children] = children_cpu() - self.load
        busy = system_busy() - self.busy
        used["other"] = max(busy - sum(used.values()), 0.0)
        self.result = {name: round(100 * seconds / wall) for name, seconds in used.items()}
        self.result["machine busy"] = round(100 * busy / wall)


def http_get(port: int, path: str, key: str | None = None, timeout: float = 5) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def http_send(
    port: int, method: str, path: str, key: str | None, body: bytes, content_type: str = "application/json"
) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    request.add_header("Content-Type", content_type)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_http(port: int, path: str, proc: Proc | None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited at start-up; see {proc.log_path}")
        if http_get(port, path, timeout=2)[0] == 200:
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing answered 200 on 127.0.0.1:{port}{path} within {timeout}s")


# ---------------------------------------------------------------------------------------------
# Databases


def pg_url(admin_url: str, dbname: str) -> str:
    parts = urlsplit(admin_url)
    return parts._replace(path="/" + dbname).geturl()


def pg_run(url: str, fn: Callable[[Any], Any]) -> Any:
    import asyncpg

    async def go() -> Any:
        conn = await asyncpg.connect(url, timeout=10)
        try:
            return await fn(conn)
        finally:
            await conn.close()

    return asyncio.run(go())


def pg_recreate(admin_url: str, dbname: str, drop_only: bool = False) -> None:
    assert dbname.startswith("vigil_bench"), dbname  # only ever our own scratch databases

    async def go(conn: Any) -> None:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            dbname,
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
        if not drop_only:
            await conn.execute(f'CREATE DATABASE "{dbname}"')

    pg_run(admin_url, go)


class Store:
    """The harness's own access to a scratch database: reset, queue depth, row counts."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_pg = url.startswith("postgres")
        self._tables: tuple[str, ...] | None = None

    def _sqlite(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.url.split(":///", 1)[1], timeout=60, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=60000")
        return conn

    def scalar(self, sql_pg: str, sql_sqlite: str, *args: Any) -> Any:
        if self.is_pg:
            return pg_run(self.url, lambda c: c.fetchval(sql_pg, *args))
        with self._sqlite() as conn:
            return conn.execute(sql_sqlite, args).fetchone()[0]

    def rows(self, sql_pg: str, sql_sqlite: str, *args: Any) -> list[tuple[Any, ...]]:
        if self.is_pg:
            return [tuple(r) for r in pg_run(self.url, lambda c: c.fetch(sql_pg, *args))]
        with self._sqlite() as conn:
            return conn.execute(sql_sqlite, args).fetchall()

    def data_tables(self) -> tuple[str, ...]:
        """DATA_TABLES, and those of OPTIONAL_DATA_TABLES this database has."""
        if self._tables is None:
            present = {
                row[0]
                for row in self.rows(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
                    "SELECT name FROM sqlite_master WHERE type = 'table'",
                )
            }
            self._tables = DATA_TABLES + tuple(t for t in OPTIONAL_DATA_TABLES if t in present)
        return self._tables

    def reset(self) -> None:
        """Empty the data tables (keys, teams, namespaces, policies and webhook endpoints stay)
        and checkpoint."""
        tables_to_empty = self.data_tables()
        if self.is_pg:

            async def go(conn: Any) -> None:
                import asyncpg

                # A running worker holds locks on jobs, requests and decisions, and ingest takes
                # them in another order: take all the locks at once without waiting (NOWAIT), so
                # this never deadlocks, and try again until the worker is between transactions.
                tables = ", ".join(tables_to_empty)
                deadline = time.monotonic() + 60
                while True:
                    try:
                        async with conn.transaction():
                            await conn.execute(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE NOWAIT")
                            await conn.execute(f"TRUNCATE {tables}")
                        break
                    except (asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError):
                        if time.monotonic() > deadline:
                            raise
                        await asyncio.sleep(0.05)
                await conn.execute("CHECKPOINT")

            pg_run(self.url, go)
            return
        conn = self._sqlite()
        try:
            conn.execute("BEGIN IMMEDIATE")
            for table in tables_to_empty:
                conn.execute(f"DELETE FROM {table}")
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()

    def queue_depth(self) -> int:
        return int(self.scalar("SELECT count(*) FROM jobs", "SELECT count(*) FROM jobs"))

    def outbox_depth(self) -> int:
        """Webhook messages not yet delivered (pending, or leased by a worker sending them)."""
        sql = "SELECT count(*) FROM webhook_messages WHERE status = 'pending'"
        return int(self.scalar(sql, sql))

    def versions_with_prefix(self, prefix: str) -> int:
        like = prefix + "-%"
        return int(
            self.scalar(
                "SELECT count(*) FROM object_versions WHERE object_id LIKE $1",
                "SELECT count(*) FROM object_versions WHERE object_id LIKE ?",
                like,
            )
        )

    def decisions_between(self, t0_ms: int, t1_ms: int) -> int:
        return int(
            self.scalar(
                "SELECT count(*) FROM decisions WHERE created_at_ms >= $1 AND created_at_ms < $2",
                "SELECT count(*) FROM decisions WHERE created_at_ms >= ? AND created_at_ms < ?",
                t0_ms,
                t1_ms,
            )
        )

    def decision_times(self, prefix: str) -> dict[str, int]:
        like = prefix + "-%"
        found = self.rows(
            "SELECT object_id, created_at_ms FROM decisions WHERE object_id LIKE $1 AND version = 1",
            "SELECT object_id, created_at_ms FROM decisions WHERE object_id LIKE ? AND version = 1",
            like,
        )
        return {oid: ms for oid, ms in found}

    def decision_span(self) -> tuple[int, int | None]:
        """(d): how many decisions, and when the last one was written."""
        count, last = self.rows(
            "SELECT count(*), max(created_at_ms) FROM decisions", "SELECT count(*), max(created_at_ms) FROM decisions"
        )[0]
        return int(count), last

    def drop(self, admin_url: str | None) -> None:
        if self.is_pg and admin_url:
            pg_recreate(admin_url, urlsplit(self.url).path.lstrip("/"), drop_only=True)


def prepare_database(kind: str, name: str, tmpdir: Path, admin_url: str | None) -> str:
    """A new, empty scratch database with Vigil's schema; returns its URL."""
    if kind == "pg":
        assert admin_url
        pg_recreate(admin_url, name)
        url = pg_url(admin_url, name)
    else:
        path = tmpdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    subprocess.run(
        [*vigil_command(), "migrate"],
        env=vigil_env({"VIGIL_DATABASE_URL": url}),
        check=True,
        capture_output=True,
    )
    return url


# ---------------------------------------------------------------------------------------------
# Vigil under test


class Vigil:
    def __init__(self, mode: str, url: str, logdir: Path, blobs: Path) -> None:
        self.mode = mode
        self.url = url
        self.store = Store(url)
        self.port = free_port()
        self.logdir = logdir
        # Import uploads and result files go to a scratch folder (by default PostgreSQL's would
        # land in .vigil/blobs under the current folder).
        self.env = vigil_env(
            {
                "VIGIL_DATABASE_URL": url,
                "VIGIL_PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}",
                "VIGIL_BLOB_URL": str(blobs),
            }
        )
        self.procs: dict[str, Proc] = {}
        self.key = ""
        self.worker_metrics_port: int | None = None

    def start(self) -> None:
        out = subprocess.run(
            [*vigil_command(), "keys", "create", "--team", "bench", "--name", "bench"],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        self.key = out.stdout.strip().splitlines()[-1]
        port = ["--port", str(self.port)]
        if self.mode == "sqlite":
            self.procs["vigil serve"] = Proc("vigil-serve", [*vigil_command(), "serve", *port], self.env, self.logdir)
        else:
            self.procs["vigil api"] = Proc("vigil-api", [*vigil_command(), "api", *port], self.env, self.logdir)
        wait_http(self.port, "/readyz", next(iter(self.procs.values())))
        if self.mode == "sqlite":
            # Newer Vigils run `vigil serve`'s worker as a child process: wait for it, so that
            # every CPU and RSS measurement counts it from the start.
            help_text = subprocess.run(
                [*vigil_command(), "serve", "--help"], env=self.env, capture_output=True, text=True
            ).stdout
            deadline = time.monotonic() + 30
            inline = self.env.get("VIGIL_SERVE_WORKER") == "inline"
            while "worker child" in help_text and not inline and not child_pids(self.procs["vigil serve"].pid):
                if time.monotonic() > deadline:
                    raise RuntimeError("vigil serve started no worker child in 30 s")
                time.sleep(0.05)
        if self.mode == "pg":
            # Newer Vigils can serve the worker's own /metrics (decision lag lives there).
            help_text = subprocess.run(
                [*vigil_command(), "worker", "--help"], env=self.env, capture_output=True, text=True
            ).stdout
            if "--metrics-port" in help_text:
                self.worker_metrics_port = free_port()
            self._start_worker()
        time.sleep(0.5)
        for proc in self.procs.values():
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited at start-up; see {proc.log_path}")

    def _start_worker(self) -> None:
        cmd = [*vigil_command(), "worker", "--no-migrate"]  # `keys create` migrated already
        if self.worker_metrics_port:
            cmd += ["--metrics-port", str(self.worker_metrics_port)]
        proc = Proc("vigil-worker", cmd, self.env, self.logdir)
        self.procs["vigil worker"] = proc
        if self.worker_metrics_port:
            wait_http(self.worker_metrics_port, "/metrics", proc, timeout=30)
        else:
            time.sleep(1.5)

    def reset(self) -> None:
        """Empty the data tables before a run. On PostgreSQL the worker process is stopped for
        it and started again: a worker busy with a backlog always holds locks on some of them."""
        if self.mode == "pg":
            self.procs.pop("vigil worker").stop()
            self.store.reset()
            self._start_worker()
        else:
            self.store.reset()

    def pids(self) -> dict[str, int]:
        """Each Vigil process, `vigil serve`'s worker child too (since it has one)."""
        found = {name: proc.pid for name, proc in self.procs.items()}
        for name, proc in self.procs.items():
            for n, child in enumerate(child_pids(proc.pid)):
                found[f"{name}: worker child" + (f" {n + 1}" if n else "")] = child
        return found

    def alive(self) -> bool:
        return all(proc.alive() for proc in self.procs.values())

    def metrics(self) -> dict[str, float]:
        status, body = http_get(self.port, "/metrics", timeout=10)
        return parse_metrics(body.decode()) if status == 200 else {}

    def worker_metrics(self) -> dict[str, float]:
        """The worker's own metrics: the API's in `vigil serve`, its --metrics-port otherwise."""
        if self.mode == "sqlite":
            return self.metrics()
        if self.worker_metrics_port is None:
            return {}
        status, body = http_get(self.worker_metrics_port, "/metrics", timeout=10)
        return parse_metrics(body.decode()) if status == 200 else {}

    def hwm(self) -> dict[str, float | None]:
        return {name: proc_hwm_mb(pid) for name, pid in self.pids().items()}

    def stop(self) -> None:
        # The API first (it drains its commits), then the worker.
        for proc in self.procs.values():
            proc.stop()


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfNa]+)$")


def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            out[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return out


def histogram_delta(before: dict[str, float], after: dict[str, float], name: str) -> dict[str, Any] | None:
    """Count, mean and bucket-interpolated p50/p99 of a histogram between two scrapes."""
    count = after.get(f"{name}_count", 0) - before.get(f"{name}_count", 0)
    if count <= 0:
        return None
    total = after.get(f"{name}_sum", 0) - before.get(f"{name}_sum", 0)
    buckets = []
    for key, value in after.items():
        if key.startswith(f"{name}_bucket{{"):
            bound = re.search(r'le="([^"]+)"', key)
            if bound:
                buckets.append((float(bound.group(1)), value - before.get(key, 0)))
    buckets.sort()

    def quantile(q: float) -> float | None:
        target = q * count
        previous_bound, previous_count = 0.0, 0.0
        for bound, cumulative in buckets:
            if cumulative >= target:
                if bound == float("inf"):
                    return previous_bound
                span = cumulative - previous_count
                share = (target - previous_count) / span if span else 1.0
                return previous_bound + (bound - previous_bound) * share
            previous_bound, previous_count = bound, cumulative
        return None

    return {"count": int(count), "mean": total / count, "p50": quantile(0.5), "p99": quantile(0.99)}


def group_commit_report(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """Shared ingest transactions between two scrapes: how many, how long, how many requests each."""
    commit = histogram_delta(before, after, "vigil_ingest_commit_seconds")
    group = histogram_delta(before, after, "vigil_ingest_commit_submissions")
    return {
        "transactions": commit["count"] if commit else None,
        "commit_mean_ms": round(commit["mean"] * 1000, 2) if commit else None,
        "requests_per_transaction": round(group["mean"], 1) if group else None,
    }


class DepthSampler(threading.Thread):
    """Rows in `jobs` once a second (queued or running evaluation jobs), from the harness; or
    another count (`depth`: the webhook outbox in (c))."""

    def __init__(self, store: Store, interval: float = 1.0, depth: Callable[[], int] | None = None) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.depth = depth or store.queue_depth
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.samples.append((time.time(), self.depth()))
            except Exception as exc:  # a failed sample must not end the run
                log(f"queue depth sample failed: {exc!r}")
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(30)


class Profiler:
    """`--profile`: py-spy (if installed) samples each Vigil process during a timed run.
    Writes collapsed stacks to the log folder; `top` summarizes where the time went."""

    def __init__(self, enabled: bool, pids: dict[str, int], seconds: float, logdir: Path, tag: str) -> None:
        exe = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
        self.enabled = enabled and Path(exe).exists()
        self.procs: list[tuple[str, Path, subprocess.Popen]] = []
        if not self.enabled:
            return
        for name, pid in pids.items():
            path = logdir / f"profile-{tag}-{name.replace(' ', '-')}.txt"
            cmd = [exe, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100",
                   "--format", "raw", "--nonblocking", "--output", str(path)]  # fmt: skip
            self.procs.append((name, path, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))

    def finish(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, path, proc in self.procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            out[name] = {"file": str(path), **profile_top(path)} if path.exists() else "no profile"
        return out


def profile_top(path: Path, n: int = 25) -> dict[str, Any]:
    """Inclusive and self shares of the sampled stacks (py-spy raw = collapsed format)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [re.sub(r" \(/.*/(site-packages|src)/", " (", f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count

    def top(table: dict[str, int]) -> list[tuple[str, float]]:
        return [(f, round(100 * c / total, 1)) for f, c in sorted(table.items(), key=lambda x: -x[1])[:n]]

    return {"samples": total, "self_pct": top(own), "inclusive_pct": top(inclusive)} if total else {"samples": 0}


def depth_trend(samples: list[tuple[float, int]], t0: float, t1: float, ingest_rate: float) -> dict[str, Any]:
    """Bounded: over [t0, t1] the depth did not trend up by more than 5 % of the ingest rate, or it
    never held more than about a second of ingest (a few in-flight batches)."""
    during = [(t, d) for t, d in samples if t0 <= t <= t1]
    growth = slope(during)
    depth_max = max((d for _, d in during), default=0)
    small = depth_max <= max(ingest_rate, 256)
    bounded = small or (growth is not None and growth <= 0.05 * max(ingest_rate, 1.0))
    return {"bounded": bounded, "depth_max": depth_max, "growth_s": None if growth is None else round(growth, 1)}


def slope(points: list[tuple[float, int]]) -> float | None:
    if len(points) < 3:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else None


# ---------------------------------------------------------------------------------------------
# Load generation


def closed_load(opts: Options, port: int, key: str, connections: int, seconds: int, batch: int, prefix: str) -> dict:
    """Saturation load from a separate process: wrk (post.lua) or bench/loadgen.py closed."""
    env = {**os.environ, "VB_PATH": INGEST_PATH, "VB_KEY": key, "VB_BATCH": str(batch), "VB_PREFIX": prefix}
    url = f"http://127.0.0.1:{port}{INGEST_PATH}"
    local_only(url)
    if opts.wrk:
        cmd = [
            opts.wrk,
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(HERE / "post.lua"),
            url,
        ]
        tag = "WRKJSON "
    else:
        cmd = [
            PY,
            str(HERE / "loadgen.py"),
            "closed",
            "--port",
            str(port),
            "--key",
            key,
            "--path",
            INGEST_PATH,
            "--connections",
            str(connections),
            "--duration",
            str(seconds),
            "--batch",
            str(batch),
            "--prefix",
            prefix,
        ]
        tag = "LOADJSON "
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith(tag)), None)
    if line is None:
        raise RuntimeError(f"load generator gave no result: {out.stdout[-500:]} {out.stderr[-500:]}")
    raw = json.loads(line[len(tag) :])
    seconds_run = raw["duration_us"] / 1e6
    ok = raw["requests"] - raw["status"]
    per = max(batch, 1)
    return {
        "requests": raw["requests"],
        "ok": ok,
        "non_2xx": raw["status"],
        "socket_errors": raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
        "seconds": round(seconds_run, 3),
        "req_s": round(ok / seconds_run, 1),
        "objects_s": round(ok * per / seconds_run, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
    }


def rate_load(
    opts: Options, port: int, key: str, rate: int, prefix: str, records: Path, poll_per_s: float | None = None
) -> dict:
    """Open loop at a fixed rate from a separate process (bench/loadgen.py rate): every POST's
    scheduled send time goes to `records` as [object id, epoch ms]."""
    local_only(f"http://127.0.0.1:{port}")
    cmd = [PY, str(HERE / "loadgen.py"), "rate", "--port", str(port), "--key", key, "--path", INGEST_PATH,
           "--rate", str(rate), "--duration", str(opts.duration), "--warmup", str(opts.warmup),
           "--prefix", prefix, "--records", str(records), "--connections", "64"]  # fmt: skip
    if poll_per_s is not None:
        cmd += ["--poll-per-s", str(poll_per_s)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=opts.duration * 3 + 120)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("LOADJSON ")), None)
    if line is None:
        raise RuntimeError(f"loadgen.py rate failed: {out.stderr[-800:]}")
    return json.loads(line[len("LOADJSON ") :])


def pct(ordered: list[float], q: float) -> float | None:
    """The q-th percentile of an ascending list (nearest rank below), rounded to 0.1."""
    return round(ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))], 1) if ordered else None


# ---------------------------------------------------------------------------------------------
# (c): the webhook receiver


class Receiver:
    """bench/receiver.py in its own process on 127.0.0.1: records every delivery's receive time."""

    def __init__(self, logdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/vigil"
        local_only(self.url)
        self.proc = Proc("webhook-receiver", [PY, str(HERE / "receiver.py"), "--port", str(self.port)],
                         dict(os.environ), logdir)  # fmt: skip
        wait_http(self.port, "/", self.proc, timeout=30)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _get(self, path: str, **query: Any) -> Any:
        status, body = http_get(self.port, f"{path}?{urlencode(query)}", timeout=30)
        if status != 200:
            raise RuntimeError(f"webhook receiver: GET {path} answered {status}; see {self.proc.log_path}")
        return json.loads(body)

    def reset(self) -> None:
        status, _ = http_send(self.port, "POST", "/reset", None, b"")
        if status != 200:
            raise RuntimeError(f"webhook receiver: reset answered {status}")

    def stats(self, **query: Any) -> dict[str, Any]:
        return self._get("/stats", **query)

    def first_receipts(self, prefix: str) -> dict[str, float]:
        """Object id → first receive time (epoch ms) of its version 1, for ids starting with `prefix`."""
        return {oid: ms for oid, version, ms in self._get("/records", prefix=prefix) if version == 1}

    def stop(self) -> None:
        self.proc.stop()


def install_starter_policy(vigil: Vigil, receiver: Receiver) -> dict[str, Any]:
    """The starter policy's settings and policy in the bench namespace (as README.md shows), and
    a webhook endpoint for decisions pointing at the receiver (docs/webhooks.md)."""
    answers: dict[str, Any] = {}
    steps = [
        ("settings", "PUT", f"{INGEST_PATH}/settings", (STARTER_POLICY / "settings.json").read_bytes(),
         "application/json"),
        ("policy", "PUT", f"{INGEST_PATH}/policy", (STARTER_POLICY / "policy.yaml").read_bytes(), "application/yaml"),
        ("endpoint", "POST", "/v1/webhooks/endpoints",
         json.dumps({"url": receiver.url, "event_types": DECISION_EVENTS, "namespaces": [NAMESPACE],
                     "description": "bench/receiver.py"}).encode(), "application/json"),
    ]  # fmt: skip
    for name, method, path, body, content_type in steps:
        status, answer = http_send(vigil.port, method, path, vigil.key, body, content_type)
        if status != 200:
            raise RuntimeError(f"{method} {path} answered {status}: {answer[:300]!r}")
        answers[name] = json.loads(answer)
    answers["endpoint"].pop("secret", None)
    return answers


# ---------------------------------------------------------------------------------------------
# Scenarios


@dataclass
class Bench:
    opts: Options
    tmpdir: Path
    logdir: Path
    runs: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    import_file: Path | None = None  # (d): generated once, imported in every round and mode

    def record(self, name: str, round_no: int, result: dict) -> None:
        self.runs.append({"config": name, "round": round_no, **result})
        brief = {
            k: result[k]
            for k in (
                "req_s",
                "objects_s",
                "p50_ms",
                "p99_ms",
                "objects_per_s",
                "upsert_objects_per_s",
                "decided_p50_ms",
                "decided_p99_ms",
                "visible_p99_ms",
                "sustained_rate",
                "webhooks_s",
                "webhook_p50_ms",
                "webhook_p99_ms",
                "webhook_missing",
                "ingest_objects_s",
                "evaluation_objects_s",
                "peak_rss_max_mb",
                "queue",
                "error",
            )
            if k in result
        }
        log(f"  {name} round {round_no}: {brief}")

    def value(self, name: str, key: str) -> list[float]:
        return [r[key] for r in self.runs if r["config"] == name and r.get(key) is not None]

    # -- ceilings -------------------------------------------------------------------------

    def http_ceiling(self, round_no: int) -> None:
        name = "ceiling/http"
        port = free_port()
        proc = Proc(
            "ceiling-app",
            [PY, str(HERE / "ceiling_app.py"), "--port", str(port)],
            dict(os.environ),
            self.logdir,
        )
        try:
            wait_http(port, "/", proc)
            closed_load(self.opts, port, "sk_ceiling", self.opts.conc_single, self.opts.warmup, 0, f"hw{round_no}")
            with CpuMeter({"server": proc.pid}) as cpu:
                result = closed_load(
                    self.opts,
                    port,
                    "sk_ceiling",
                    self.opts.conc_single,
                    self.opts.duration,
                    0,
                    f"ht{round_no}",
                )
            result["cpu_pct"] = cpu.result
            self.record(name, round_no, result)
        except Exception as exc:
            self.record(name, round_no, {"error": repr(exc)})
        finally:
            proc.stop()

    def storage_ceilings(self, mode: str, round_no: int) -> None:
        names = [f"ceiling/storage-{mode}-{b}" for b in (100, 1000)]
        if not any(self.opts.wanted(n) for n in names):
            return
        try:
            url = prepare_database(mode, SCRATCH_CEILING_DB, self.tmpdir, self.opts.pg_admin_url)
        except Exception as exc:
            for name in names:
                self.record(name, round_no, {"error": f"scratch database: {exc!r}"})
            return
        store = Store(url)
        for batch, name in zip((100, 1000), names, strict=True):
            if not self.opts.wanted(name):
                continue
            try:
                store.reset()
                cmd = [
                    PY,
                    str(HERE / "storage_ceiling.py"),
                    "--url",
                    url,
                    "--batch",
                    str(batch),
                    "--concurrency",
                    str(self.opts.storage_conc_pg),
                    "--duration",
                    str(self.opts.duration),
                    "--warmup",
                    str(self.opts.warmup),
                    "--prefix",
                    f"s{round_no}",
                ]
                with CpuMeter({}, children="ceiling process") as cpu:
                    out = subprocess.run(cmd, capture_output=True, text=True, timeout=self.opts.duration * 3 + 120)
                line = next((ln for ln in out.stdout.splitlines() if ln.startswith("STORAGEJSON ")), None)
                if line is None:
                    raise RuntimeError(f"storage_ceiling.py failed: {out.stderr[-800:]}")
                result = json.loads(line[len("STORAGEJSON ") :])
                result["cpu_pct"] = cpu.result
                self.record(name, round_no, result)
            except Exception as exc:
                self.record(name, round_no, {"error": repr(exc)})
        if mode == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(url.split(":///", 1)[1] + suffix).unlink(missing_ok=True)

    # -- Vigil ----------------------------------------------------------------------------

    def vigil_block(self, mode: str, round_no: int) -> None:
        # (c) installs the starter policy and a webhook endpoint: it comes last, so that the others
        # run as before (no policy, no webhooks).
        scenarios = [s for s in ("a", "b100", "b1000", "c0", "c0-100", "c") if self.opts.wanted(f"{mode}/{s}")]
        if not scenarios:
            return
        try:
            url = prepare_database(mode, SCRATCH_DB, self.tmpdir, self.opts.pg_admin_url)
            vigil = Vigil(mode, url, self.logdir, self.tmpdir / f"blobs-{mode}")
            vigil.start()
        except Exception as exc:
            for s in scenarios:
                self.record(f"{mode}/{s}", round_no, {"error": f"could not start Vigil: {exc!r}"})
            return
        receiver: Receiver | None = None
        try:
            for scenario in scenarios:
                if STOP.is_set():
                    break
                name = f"{mode}/{scenario}"
                if not vigil.alive():
                    self.record(name, round_no, {"error": "a Vigil process died; see logs"})
                    continue
                try:
                    if scenario.startswith("c0"):
                        result = self.decision_latency(vigil, mode, scenario, round_no)
                    elif scenario == "c":
                        receiver = Receiver(self.logdir)
                        setup = install_starter_policy(vigil, receiver)
                        result = self.webhook_end_to_end(vigil, receiver, round_no)
                        result["setup"] = setup
                    else:
                        result = self.saturation(vigil, scenario, round_no)
                    self.record(name, round_no, result)
                except Exception as exc:
                    self.record(name, round_no, {"error": repr(exc)})
            peak = vigil.hwm()
            for run in self.runs:
                if run["config"].startswith(mode + "/") and run["round"] == round_no:
                    run["peak_rss_mb"] = peak
        finally:
            vigil.stop()
            if receiver is not None:
                receiver.stop()
            if mode == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    Path(url.split(":///", 1)[1] + suffix).unlink(missing_ok=True)

    def saturation(self, vigil: Vigil, scenario: str, round_no: int) -> dict:
        batch = {"a": 0, "b100": 100, "b1000": 1000}[scenario]
        conns = {"a": self.opts.conc_single, "b100": self.opts.conc_b100, "b1000": self.opts.conc_b1000}[scenario]
        vigil.reset()
        sampler = DepthSampler(vigil.store)
        sampler.start()
        closed_load(self.opts, vigil.port, vigil.key, conns, self.opts.warmup, batch, f"w{round_no}{scenario}")
        before = vigil.metrics()
        t0 = time.time()
        tag = f"{vigil.mode}-{scenario}-r{round_no}"
        profiler = Profiler(self.opts.profile, vigil.pids(), self.opts.duration, self.logdir, tag)
        with CpuMeter(vigil.pids()) as cpu:
            prefix = f"t{round_no}{scenario}"
            result = closed_load(self.opts, vigil.port, vigil.key, conns, self.opts.duration, batch, prefix)
        t1 = time.time()
        if profiler.enabled:
            result["profile"] = profiler.finish()
        after = vigil.metrics()
        result["cpu_pct"] = cpu.result
        result["connections"] = conns
        result["queue"] = self.queue_report(vigil, sampler, t0, t1, result["objects_s"])
        stored = vigil.store.versions_with_prefix(prefix)
        promised = result["ok"] * max(batch, 1)
        result["durable_check"] = {
            "acknowledged_objects": promised,
            "stored_versions": stored,
            "ok": stored >= promised,
        }
        result["group_commit"] = group_commit_report(before, after)
        return result

    def queue_report(self, vigil: Vigil, sampler: DepthSampler, t0: float, t1: float, ingest_rate: float) -> dict:
        """Is the worker keeping up? Depth trend during the timed run, then a short drain watch."""
        at_end = vigil.store.queue_depth()
        drain_start = time.time()
        drained_in = None
        while time.time() - drain_start < self.opts.drain_s:
            if vigil.store.queue_depth() == 0:
                drained_in = round(time.time() - drain_start, 1)
                break
            time.sleep(0.25)
        sampler.stop()
        trend = depth_trend(sampler.samples, t0, t1, ingest_rate)
        decided = vigil.store.decisions_between(int(t0 * 1000), int(t1 * 1000))
        worker_rate = decided / max(t1 - t0, 1e-9)
        return {
            "bounded": trend["bounded"],
            "depth_max": trend["depth_max"],
            "depth_at_end": at_end,
            "growth_jobs_s": trend["growth_s"],
            "worker_objects_s": round(worker_rate, 1),
            "worker_vs_ingest": round(worker_rate / ingest_rate, 3) if ingest_rate else None,
            "drained_in_s": drained_in,
            "samples": [(round(t - t0, 1), d) for t, d in sampler.samples],
        }

    def decision_latency(self, vigil: Vigil, mode: str, scenario: str, round_no: int) -> dict:
        """(c0) open loop at a fixed rate; POST sent → decision written (every object) and → visible
        through GET /v1/data/{ns}/objects/{id} (a sample, polled every 20 ms)."""
        if scenario == "c0":
            sustained = self.value(f"{mode}/a", "req_s")
            if not sustained:
                raise RuntimeError("needs scenario (a) in the same run for its rate")
            offered = max(20, int(statistics.median(sustained) / 2))
        else:
            offered = self.opts.low_rate
        vigil.reset()
        records_file = self.tmpdir / f"records-{mode}-{scenario}-{round_no}.json"
        prefix = f"c{round_no}{scenario.replace('-', '')}"
        sampler = DepthSampler(vigil.store)
        sampler.start()
        before = vigil.metrics()
        worker_before = vigil.worker_metrics()
        with CpuMeter(vigil.pids()) as cpu:
            result = rate_load(self.opts, vigil.port, vigil.key, offered, prefix, records_file)
        # The worker's rate and the depth trend over the measured sending window only (the
        # load process goes on polling for a while after its last POST).
        start, end = result.pop("measure_start_epoch"), result.pop("send_end_epoch")
        result["queue"] = self.queue_report(vigil, sampler, start, end, offered)
        after = vigil.metrics()
        records = json.loads(records_file.read_text())
        records_file.unlink(missing_ok=True)
        decided_at = vigil.store.decision_times(prefix)
        lags = sorted(decided_at[oid] - sent for oid, sent in records if oid in decided_at)
        missing = sum(1 for oid, _ in records if oid not in decided_at)
        result.update(
            {
                "offered_rate": offered,
                "decided_n": len(lags),
                "decided_missing": missing,
                "decided_p50_ms": pct(lags, 50),
                "decided_p99_ms": pct(lags, 99),
                "decided_max_ms": lags[-1] if lags else None,
                "cpu_pct": cpu.result,
            }
        )
        result["group_commit"] = group_commit_report(before, after)
        lag = histogram_delta(worker_before, vigil.worker_metrics(), "vigil_decision_lag_seconds")
        result["metrics_decision_lag_ms"] = (
            {k: (round(v * 1000, 1) if isinstance(v, float) else v) for k, v in lag.items()}
            if lag
            else "not exposed (this vigil worker has no --metrics-port)"
            if vigil.worker_metrics_port is None and mode == "pg"
            else None
        )
        return result

    # -- (d) bulk import ------------------------------------------------------------------

    def import_data(self) -> Path:
        if self.import_file is None:
            path = self.tmpdir / "import.jsonl"
            started = time.monotonic()
            size = import_bench.make_file(path, self.opts.import_objects)
            log(f"  (d) generated {self.opts.import_objects:,} objects, {size / 1e6:.0f} MB, "
                f"in {time.monotonic() - started:.0f} s")  # fmt: skip
            self.import_file = path
        return self.import_file

    def import_block(self, mode: str, round_no: int) -> None:
        """(d): a fresh database and fresh Vigil processes (so their peak RSS is the import's),
        the import, then (Vigil stopped) the raw upsert ceiling on the same database."""
        name, ceiling = f"{mode}/d", f"ceiling/import-{mode}"
        want_import = self.opts.wanted(name)
        want_ceiling = want_import or self.opts.wanted(ceiling)  # (d) is always reported beside its ceiling
        if not want_ceiling or STOP.is_set() or round_no > self.opts.import_rounds:
            return
        try:
            url = prepare_database(mode, SCRATCH_DB, self.tmpdir, self.opts.pg_admin_url)
        except Exception as exc:
            for config, wanted in ((name, want_import), (ceiling, want_ceiling)):
                if wanted:
                    self.record(config, round_no, {"error": f"scratch database: {exc!r}"})
            return
        try:
            if want_import:
                try:
                    self.record(name, round_no, self.bulk_import(mode, url, round_no))
                except Exception as exc:
                    self.record(name, round_no, {"error": repr(exc)})
            if not STOP.is_set():
                try:
                    self.record(ceiling, round_no, self.import_ceiling(mode, url))
                except Exception as exc:
                    self.record(ceiling, round_no, {"error": repr(exc)})
        finally:
            if mode == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    Path(url.split(":///", 1)[1] + suffix).unlink(missing_ok=True)
            shutil.rmtree(self.tmpdir / f"blobs-import-{mode}", ignore_errors=True)

    def bulk_import(self, mode: str, url: str, round_no: int) -> dict:
        data = self.import_data()
        count = self.opts.import_objects
        vigil = Vigil(mode, url, self.logdir, self.tmpdir / f"blobs-import-{mode}")
        try:
            vigil.start()
            # The harness itself uploads and polls: its own CPU is a party of its own.
            with CpuMeter({**vigil.pids(), "harness (upload, polls)": os.getpid()}, children="harness children") as cpu:
                run = import_bench.import_file(
                    f"http://127.0.0.1:{vigil.port}",
                    vigil.key,
                    data,
                    count,
                    list(vigil.pids().values()),
                    name=f"{mode}/d round {round_no}",
                    poll_s=0.5,
                    # Bounded: give up below ~1,000 lines/s; stop watching the evaluations after a while.
                    read_timeout_s=60 + count / 1000,
                    finish_timeout_s=self.opts.import_finish_wait_s,
                    alive=vigil.alive,
                    say=lambda message: log("  " + message),
                )
            hwm = vigil.hwm()
        finally:
            vigil.stop()
        times = import_bench.db_times(url, run["request_id"])
        decisions, last_decision_ms = vigil.store.decision_span()
        uploaded_ms, read_ms = times["uploaded_at_ms"], times["read_at_ms"]
        ingest_s = (read_ms - uploaded_ms) / 1000 if read_ms and uploaded_ms else None
        evaluating_s = (last_decision_ms - uploaded_ms) / 1000 if last_decision_ms and uploaded_ms else None
        peak = max((v for v in hwm.values() if v is not None), default=None)
        return {
            "objects": count,
            "file_bytes": data.stat().st_size,
            **{k: v for k, v in run.items() if k != "samples"},
            "ingest_s": None if ingest_s is None else round(ingest_s, 1),
            "ingest_objects_s": round(run["lines_read"] / ingest_s, 1) if ingest_s and run["lines_read"] else None,
            "end_to_end_objects_s": round(count / run["finished_s"], 1)
            if run["status"] == "succeeded" and run["finished_s"]
            else None,
            "evaluated": decisions,
            "evaluated_share": round(decisions / count, 3),
            "evaluation_objects_s": round(decisions / evaluating_s, 1) if evaluating_s else None,
            "peak_rss_mb": hwm,
            "peak_rss_max_mb": peak,
            "rss_limit_mb": import_bench.RSS_LIMIT_MB,
            "cpu_pct": cpu.result,
            "samples": run["samples"],
        }

    def import_ceiling(self, mode: str, url: str) -> dict:
        """import_bench's raw upsert ceiling (Vigil's driver and durability, one connection, 1,000
        rows per transaction): the objects upsert alone, and with the history row and the job an
        import also writes per object (the ratio's denominator)."""
        count = min(self.opts.import_objects, 200_000)
        with CpuMeter({"ceiling (in the harness)": os.getpid()}, children="harness children") as cpu:
            if mode == "sqlite":
                path = url.split(":///", 1)[1]
                upsert = import_bench.sqlite_ceiling(path, count, False)
                rows = import_bench.sqlite_ceiling(path, count, True)
            else:
                upsert = import_bench.pg_ceiling(url, count, False)
                rows = import_bench.pg_ceiling(url, count, True)
        return {
            "objects": count,
            "objects_per_s": round(rows, 1),
            "upsert_objects_per_s": round(upsert, 1),
            "cpu_pct": cpu.result,
        }

    # -- (c) POST → webhook received ------------------------------------------------------

    def webhook_end_to_end(self, vigil: Vigil, receiver: Receiver, round_no: int) -> dict:
        """(c) with the starter policy and a webhook endpoint at the receiver. First single-object
        POSTs at saturation (as (a)): its webhooks/s is a lower bound of the sustained rate, its
        POST rate an upper bound. Then open-loop probes between the two (a geometric bisection):
        the sustained rate is the highest POST rate at which the pipeline kept up (webhooks/s at
        least 95 % of it, `jobs` and the webhook outbox bounded). Last, open loop at half that
        rate, where each object's latency is its first webhook's receive time minus its POST's
        scheduled send time."""
        saturation = self._webhooks_at_saturation(vigil, receiver, round_no)
        if not saturation["webhooks_s"]:
            raise RuntimeError(f"no webhook received during the saturation run: {saturation}")
        probes = self._search_sustained(vigil, receiver, round_no, saturation)
        kept = [p for p in probes if p["kept_up"]]
        best = max(kept, key=lambda p: p["offered_rate"]) if kept else None
        sustained_rate = best["offered_rate"] if best else None
        # Nothing kept up: the latency run falls back on half the saturation's webhook rate (as before).
        half = max(20, int((sustained_rate or saturation["webhooks_s"]) / 2))
        latency = self._webhook_latency(vigil, receiver, round_no, half)
        # The queue verdict is the one at the sustained rate; with no rate kept up, the lowest probe's.
        at = best or min(probes, key=lambda p: p["offered_rate"], default=None) or saturation
        return {
            "sustained_rate": sustained_rate,
            "webhooks_s": at["webhooks_s"],  # webhooks/s received at that rate
            "saturation_req_s": saturation["req_s"],
            "saturation_webhooks_s": saturation["webhooks_s"],
            "saturation_bounded": saturation["queue"]["bounded"] and saturation["outbox"]["bounded"],
            "probes": [
                {k: p[k] for k in ("offered_rate", "webhooks_s", "share", "jobs_bounded", "outbox_bounded", "kept_up")}
                for p in probes
            ],
            **{k: latency[k] for k in ("offered_rate", "webhook_p50_ms", "webhook_p99_ms", "webhook_missing")},
            "queue": at["queue"],
            "outbox": at["outbox"],
            "cpu_pct": at["cpu_pct"],
            "saturation": saturation,
            "probe_runs": probes,
            "latency": latency,
        }

    def _search_sustained(self, vigil: Vigil, receiver: Receiver, round_no: int, saturation: dict) -> list[dict]:
        """Open-loop probes between the saturation's webhook rate (lo) and its POST rate (hi),
        each at the geometric middle of what is left: up when the probe kept up, down when not.
        When nothing has kept up by the last probe, it goes to lo itself. The range is widened
        to at least [0.7 hi, hi] so that a few probes can still tell rates apart when the
        saturation run delivered nearly everything (SQLite)."""
        hi = max(saturation["req_s"], saturation["webhooks_s"], 20.0)  # open loop cannot beat the saturation
        lo = max(20.0, min(saturation["webhooks_s"], 0.7 * hi))
        probes: list[dict] = []
        for index in range(self.opts.webhook_probes):
            if STOP.is_set() or not vigil.alive():
                break
            last = index == self.opts.webhook_probes - 1
            target = lo if last and probes and not any(p["kept_up"] for p in probes) else (lo * hi) ** 0.5
            rate = int(round(target))
            if any(p["offered_rate"] == rate for p in probes):
                break  # the range has closed
            probe = self._webhook_probe(vigil, receiver, round_no, index, rate)
            probes.append(probe)
            log(
                f"    (c) probe {index + 1}/{self.opts.webhook_probes}: {rate} POST/s → {probe['webhooks_s']} "
                f"webhooks/s ({fmt_pct(probe['share'])}), jobs {'bounded' if probe['jobs_bounded'] else 'GROWING'}, "
                f"outbox {'bounded' if probe['outbox_bounded'] else 'GROWING'}: "
                + ("kept up" if probe["kept_up"] else "did not keep up")
            )
            if probe["kept_up"]:
                lo = rate
            else:
                hi = rate
        return probes

    def _webhook_probe(self, vigil: Vigil, receiver: Receiver, round_no: int, index: int, offered: int) -> dict:
        """One open-loop run at `offered` POST/s (warm-up + timed run, data emptied before): did
        every stage keep up? Webhooks/s = object versions of this run first received during the
        timed window ÷ its length (in a steady state, as many as were posted)."""
        prefix = f"q{round_no}c{index}"
        records_file = self.tmpdir / f"records-{vigil.mode}-cq{index}-{round_no}.json"
        result, jobs, outbox, cpu = self._webhook_run(vigil, receiver, offered, prefix, records_file)
        start, end = result.pop("measure_start_epoch"), result.pop("send_end_epoch")
        window = receiver.stats(prefix=prefix + "-", from_ms=start * 1000, to_ms=end * 1000)
        webhooks_s = window["prefix_in_window"] / max(end - start, 1e-9)
        result["queue"] = self.queue_report(vigil, jobs, start, end, offered)  # + a 3 s drain watch
        result["outbox"] = self._outbox_report(vigil, outbox, start, end, offered)
        records = json.loads(records_file.read_text())
        records_file.unlink(missing_ok=True)
        received = receiver.first_receipts(prefix + "-")  # by the end of the drain watch, no grace period
        lags = sorted(received[oid] - sent for oid, sent in records if oid in received)
        stats = receiver.stats()
        share = webhooks_s / offered
        result.update(
            {
                "offered_rate": offered,
                "webhooks_s": round(webhooks_s, 1),
                "share": round(share, 3),
                "accepted_s": round(result["accepted"] / max(end - start, 1e-9), 1),
                "jobs_bounded": result["queue"]["bounded"],
                "outbox_bounded": result["outbox"]["bounded"],
                "kept_up": share >= self.opts.keep_up_share
                and result["queue"]["bounded"]
                and result["outbox"]["bounded"],
                "webhook_p50_ms": pct(lags, 50),
                "webhook_p99_ms": pct(lags, 99),
                "not_received_by_end_of_drain_watch": sum(1 for oid, _ in records if oid not in received),
                "receiver": {k: stats[k] for k in ("received", "duplicates", "unsigned", "undecodable", "types")},
                "cpu_pct": cpu.result,
            }
        )
        return result

    def _samplers(self, vigil: Vigil) -> tuple[DepthSampler, DepthSampler]:
        jobs = DepthSampler(vigil.store)
        outbox = DepthSampler(vigil.store, depth=vigil.store.outbox_depth)
        jobs.start()
        outbox.start()
        return jobs, outbox

    def _outbox_report(self, vigil: Vigil, sampler: DepthSampler, t0: float, t1: float, rate: float) -> dict:
        """Webhook messages not yet delivered: trend over [t0, t1] (bounded as for `jobs`)."""
        at_end = vigil.store.outbox_depth()
        sampler.stop()
        trend = depth_trend(sampler.samples, t0, t1, rate)
        return {**trend, "depth_at_end": at_end, "samples": [(round(t - t0, 1), d) for t, d in sampler.samples]}

    def _webhooks_at_saturation(self, vigil: Vigil, receiver: Receiver, round_no: int) -> dict:
        conns = self.opts.conc_single
        vigil.reset()
        receiver.reset()
        jobs, outbox = self._samplers(vigil)
        closed_load(self.opts, vigil.port, vigil.key, conns, self.opts.warmup, 0, f"w{round_no}c")
        prefix = f"t{round_no}c"
        t0 = time.time()
        with CpuMeter({**vigil.pids(), "receiver": receiver.pid}) as cpu:
            result = closed_load(self.opts, vigil.port, vigil.key, conns, self.opts.duration, 0, prefix)
        t1 = time.time()
        window = receiver.stats(from_ms=t0 * 1000, to_ms=t1 * 1000)
        webhooks_s = window["in_window"] / (t1 - t0)
        result["cpu_pct"] = cpu.result
        result["webhooks_s"] = round(webhooks_s, 1)
        result["delivered_share"] = round(webhooks_s / result["req_s"], 3) if result["req_s"] else None
        result["queue"] = self.queue_report(vigil, jobs, t0, t1, result["objects_s"])  # + a 3 s drain watch
        result["outbox"] = self._outbox_report(vigil, outbox, t0, t1, result["objects_s"])
        after = receiver.stats(prefix=prefix + "-")
        result["timed_objects"] = {
            "acknowledged": result["ok"],
            "webhook_received_by_end_of_drain_watch": after["prefix_objects"],
        }
        result["receiver"] = {k: after[k] for k in ("received", "duplicates", "unsigned", "undecodable", "types")}
        return result

    def _webhook_run(
        self, vigil: Vigil, receiver: Receiver, offered: int, prefix: str, records_file: Path
    ) -> tuple[dict, Any, Any, CpuMeter]:
        """One open-loop run of (c) from empty tables and an empty receiver log; the webhooks,
        not GET polling, are the signal. Returns the load's result, the jobs and outbox
        samplers, and the CPU meter."""
        vigil.reset()
        receiver.reset()
        jobs, outbox = self._samplers(vigil)
        with CpuMeter({**vigil.pids(), "receiver": receiver.pid}) as cpu:
            result = rate_load(self.opts, vigil.port, vigil.key, offered, prefix, records_file, poll_per_s=0)
        for key in ("visible_n", "visible_p50_ms", "visible_p99_ms", "visible_max_ms", "poll_interval_ms",
                    "polls_per_s", "polls", "poll_timeouts"):  # fmt: skip
            result.pop(key, None)
        return result, jobs, outbox, cpu

    def _webhook_latency(self, vigil: Vigil, receiver: Receiver, round_no: int, offered: int) -> dict:
        prefix = f"h{round_no}c"
        records_file = self.tmpdir / f"records-{vigil.mode}-c-{round_no}.json"
        result, jobs, outbox, cpu = self._webhook_run(vigil, receiver, offered, prefix, records_file)
        start, end = result.pop("measure_start_epoch"), result.pop("send_end_epoch")
        records = json.loads(records_file.read_text())
        records_file.unlink(missing_ok=True)
        # Every POST has been answered; wait (bounded) for the webhooks still on their way.
        expected = result["sent"] - result["errors"] - result["status"]  # warm-up POSTs included
        grace_start = time.time()
        while time.time() - grace_start < self.opts.webhook_grace_s:
            if receiver.stats(prefix=prefix + "-")["prefix_objects"] >= expected:
                break
            time.sleep(0.2)
        waited = time.time() - grace_start
        result["queue"] = self.queue_report(vigil, jobs, start, end, offered)
        result["outbox"] = self._outbox_report(vigil, outbox, start, end, offered)
        received = receiver.first_receipts(prefix + "-")
        decided = vigil.store.decision_times(prefix)
        lags = sorted(received[oid] - sent for oid, sent in records if oid in received)
        to_decision = sorted(decided[oid] - sent for oid, sent in records if oid in decided)
        decision_to_webhook = sorted(received[oid] - decided[oid] for oid, _ in records if oid in received
                                     and oid in decided)  # fmt: skip
        stats = receiver.stats()
        result.update(
            {
                "offered_rate": offered,
                "webhook_n": len(lags),
                "webhook_missing": sum(1 for oid, _ in records if oid not in received),
                "webhook_p50_ms": pct(lags, 50),
                "webhook_p90_ms": pct(lags, 90),
                "webhook_p99_ms": pct(lags, 99),
                "webhook_max_ms": round(lags[-1], 1) if lags else None,
                "grace_waited_s": round(waited, 1),
                "decided_p50_ms": pct(to_decision, 50),
                "decided_p99_ms": pct(to_decision, 99),
                "decision_to_webhook_p50_ms": pct(decision_to_webhook, 50),
                "decision_to_webhook_p99_ms": pct(decision_to_webhook, 99),
                "receiver": {k: stats[k] for k in ("received", "duplicates", "unsigned", "undecodable", "types")},
                "cpu_pct": cpu.result,
            }
        )
        return result


# ---------------------------------------------------------------------------------------------
# Summary


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt_int(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def fmt_ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


def paired_ratios(bench: Bench, name: str, key: str, ceiling: str, ceiling_key: str) -> list[float]:
    """value ÷ ceiling, per round: the two were measured side by side in that round."""
    ratios = []
    for run in bench.runs:
        if run["config"] != name or run.get(key) is None:
            continue
        peer = next(
            (r for r in bench.runs if r["config"] == ceiling and r["round"] == run["round"] and r.get(ceiling_key)),
            None,
        )
        if peer:
            ratios.append(run[key] / peer[ceiling_key])
    return ratios


def summarize(bench: Bench) -> tuple[list[dict], str]:
    rows: list[dict] = []
    http = median(bench.value("ceiling/http", "req_s"))
    if any(r["config"] == "ceiling/http" for r in bench.runs):
        rows.append(
            {
                "config": "ceiling/http",
                "scenario": "HTTP ceiling: bare ASGI single POST",
                "mode": "—",
                "result": f"{fmt_int(http)} req/s, "
                f"p50 {fmt_ms(median(bench.value('ceiling/http', 'p50_ms')))} ms, "
                f"p99 {fmt_ms(median(bench.value('ceiling/http', 'p99_ms')))} ms",
                "rounds": bench.value("ceiling/http", "req_s"),
            }
        )
    for mode, target in (("sqlite", 0.30), ("pg", 0.20)):
        for batch in (100, 1000):
            name = f"ceiling/storage-{mode}-{batch}"
            values = bench.value(name, "objects_per_s")
            if values:
                rows.append(
                    {
                        "config": name,
                        "scenario": f"storage ceiling: raw upsert, {batch}/txn",
                        "mode": mode,
                        "result": f"{fmt_int(median(values))} objects/s",
                        "rounds": values,
                    }
                )
        name = f"{mode}/a"
        values = bench.value(name, "req_s")
        if values or any(r["config"] == name for r in bench.runs):
            ratio = median(paired_ratios(bench, name, "req_s", "ceiling/http", "req_s"))
            rows.append(
                {
                    "config": name,
                    "scenario": "(a) single-object POST, saturation",
                    "mode": mode,
                    "result": f"{fmt_int(median(values))} req/s, "
                    f"p50 {fmt_ms(median(bench.value(name, 'p50_ms')))} ms, "
                    f"p99 {fmt_ms(median(bench.value(name, 'p99_ms')))} ms",
                    "ceiling": f"HTTP {fmt_int(http)} req/s",
                    "ratio": ratio,
                    "target": target,
                    "verdict": verdict(ratio, target),
                    "rounds": values,
                    "queue": queue_summary(bench, name),
                    "durable": durable_summary(bench, name),
                }
            )
        for batch in (100, 1000):
            name = f"{mode}/b{batch}"
            values = bench.value(name, "objects_s")
            if not values and not any(r["config"] == name for r in bench.runs):
                continue
            ceiling_name = f"ceiling/storage-{mode}-{batch}"
            ceiling = median(bench.value(ceiling_name, "objects_per_s"))
            ratio = median(paired_ratios(bench, name, "objects_s", ceiling_name, "objects_per_s"))
            rows.append(
                {
                    "config": name,
                    "scenario": f"(b) batch POST of {batch:,}",
                    "mode": mode,
                    "result": f"{fmt_int(median(values))} objects/s durable, p99 "
                    f"{fmt_ms(median(bench.value(name, 'p99_ms')))} ms/request",
                    "ceiling": f"storage {fmt_int(ceiling)} obj/s",
                    "ratio": ratio,
                    "target": 0.50,
                    "verdict": verdict(ratio, 0.50),
                    "rounds": values,
                    "queue": queue_summary(bench, name),
                    "durable": durable_summary(bench, name),
                }
            )
        for scenario in ("c0", "c0-100"):
            name = f"{mode}/{scenario}"
            if not any(r["config"] == name for r in bench.runs):
                continue
            rate = median(bench.value(name, "offered_rate"))
            p99 = median(bench.value(name, "decided_p99_ms"))
            rows.append(
                {
                    "config": name,
                    "scenario": f"(c0) POST → decision, {fmt_int(rate)} POST/s"
                    + (" (half of a)" if scenario == "c0" else " (fixed)"),
                    "mode": mode,
                    "result": f"decided p50 {fmt_ms(median(bench.value(name, 'decided_p50_ms')))} / "
                    f"p99 {fmt_ms(p99)} ms; visible (GET poll) p50 "
                    f"{fmt_ms(median(bench.value(name, 'visible_p50_ms')))} / "
                    f"p99 {fmt_ms(median(bench.value(name, 'visible_p99_ms')))} ms; ack p99 "
                    f"{fmt_ms(median(bench.value(name, 'ack_p99_ms')))} ms",
                    "ceiling": "—",
                    "ratio": None,
                    "target": "p99 < 100 ms (ref.)",
                    "verdict": "—" if p99 is None else ("ok" if p99 < 100 else "over"),
                    "rounds": bench.value(name, "decided_p99_ms"),
                    "queue": queue_summary(bench, name),
                }
            )
        rows += webhook_rows(bench, mode)
        rows += import_rows(bench, mode)
    for row in rows:
        if "config" in row and "noise" not in row:
            row["noise"] = noise_summary(bench, row["config"])
            row["errors"] = [r["error"] for r in bench.runs if r["config"] == row["config"] and "error" in r]
    return rows, render(rows)


def webhook_rows(bench: Bench, mode: str) -> list[dict]:
    """(c): the sustained rate (the highest open-loop POST rate that kept up), with its probes and
    the saturation run's figures, then the latency at half of it."""
    name = f"{mode}/c"
    runs = [r for r in bench.runs if r["config"] == name]
    if not runs:
        return []
    ok = [r for r in runs if "error" not in r]
    rates = bench.value(name, "sustained_rate")
    found = [r for r in ok if r.get("sustained_rate")]
    # Each round's probes in the order run: rate and whether it kept up (why not, in the notes).
    probes = "; ".join(", ".join(f"{p['offered_rate']:,} {'ok' if p['kept_up'] else 'no'}" for p in r["probes"])
                       for r in ok)  # fmt: skip
    why = "; ".join(
        f"round {r['round']}: "
        + ", ".join(
            f"{p['offered_rate']:,} POST/s → {fmt_int(p['webhooks_s'])} webhooks/s "
            + ("kept up" if p["kept_up"] else probe_miss(p, bench.opts.keep_up_share))
            for p in r["probes"]
        )
        for r in ok
    )
    saturation = (
        f"saturation POST {fmt_int(median(bench.value(name, 'saturation_req_s')))} → "
        f"{fmt_int(median(bench.value(name, 'saturation_webhooks_s')))} webhooks/s"
        + ("" if all(r["saturation_bounded"] for r in ok) else ", queue GROWING")
    )
    if found:
        result = (
            f"{fmt_int(median(rates))} POST/s sustained → "
            f"{fmt_int(median([r['webhooks_s'] for r in found]))} webhooks/s (probes {probes or '—'}; {saturation})"
        )
    else:
        result = f"no probed rate kept up (probes {probes or '—'}; {saturation})"
    sustained = {
        "config": name,
        "scenario": "(c) POST → webhook, sustained (starter policy)",
        "mode": mode,
        "result": result,
        "ceiling": "—",
        "ratio": None,
        "target": "queue bounded at it",
        # ok: in every round some rate kept up, and so jobs and the outbox were bounded at it.
        "verdict": "—" if not ok else ("ok" if len(found) == len(ok) else f"GROWING in {len(ok) - len(found)} runs"),
        "rounds": rates,
        "queue": ("at the sustained rate: " if found else "at the lowest probe: ")
        + queue_state([r["queue"] for r in ok]),
        "outbox": outbox_summary([r["outbox"] for r in ok]),
        "probes": f"probes: {why}" if why else "—",
    }
    rate = median(bench.value(name, "offered_rate"))
    p99 = median(bench.value(name, "webhook_p99_ms"))
    missing = sum(bench.value(name, "webhook_missing"))
    latency_runs = [r["latency"] for r in ok]
    target = "p99 < 100 ms" if mode == "pg" else "p99 < 100 ms (ref.)"
    state = "—" if p99 is None else ("ok" if p99 < 100 else "over")
    if missing:
        state += f", {missing} MISSING"
    latency = {
        "config": name,
        "scenario": f"(c) POST → webhook, {fmt_int(rate)} POST/s "
        + ("(half of sustained)" if len(found) == len(ok) else "(half of sustained, or of saturation's webhooks/s)"),
        "mode": mode,
        "result": f"p50 {fmt_ms(median(bench.value(name, 'webhook_p50_ms')))} / p99 {fmt_ms(p99)} ms, "
        f"{missing} missing; decided p99 "
        f"{fmt_ms(median([r['decided_p99_ms'] for r in latency_runs if r['decided_p99_ms'] is not None]))} ms, "
        "decision → webhook p99 "
        f"{fmt_ms(median([r['decision_to_webhook_p99_ms'] for r in latency_runs if r['decision_to_webhook_p99_ms'] is not None]))} ms",  # noqa: E501
        "ceiling": "—",
        "ratio": None,
        "target": target,
        "verdict": state,
        "rounds": bench.value(name, "webhook_p99_ms"),
        "queue": queue_state([r["queue"] for r in latency_runs]),
        "outbox": outbox_summary([r["outbox"] for r in latency_runs]),
        "noise": noise_text([r["cpu_pct"].get("other", 0) for r in latency_runs if r.get("cpu_pct")]),
        "errors": [],
    }
    return [sustained, latency]


def probe_miss(probe: dict, share: float) -> str:
    """Why a (c) probe did not keep up: webhooks short of the POST rate, or a queue growing."""
    why = [] if probe["share"] >= share else [fmt_pct(probe["share"])]
    why += [] if probe["jobs_bounded"] else ["jobs growing"]
    why += [] if probe["outbox_bounded"] else ["outbox growing"]
    return "no (" + ", ".join(why or ["?"]) + ")"


def import_rows(bench: Bench, mode: str) -> list[dict]:
    """(d): lines committed per second beside the import ceiling (same rows, same transaction size)."""
    rows = []
    ceiling_name = f"ceiling/import-{mode}"
    ceilings = bench.value(ceiling_name, "objects_per_s")
    if ceilings or any(r["config"] == ceiling_name for r in bench.runs):
        rows.append(
            {
                "config": ceiling_name,
                "scenario": "import ceiling: upsert + history + job, 1,000/txn",
                "mode": mode,
                "result": f"{fmt_int(median(ceilings))} objects/s "
                f"(upsert alone {fmt_int(median(bench.value(ceiling_name, 'upsert_objects_per_s')))})",
                "rounds": ceilings,
            }
        )
    name = f"{mode}/d"
    runs = [r for r in bench.runs if r["config"] == name]
    if not runs:
        return rows
    ok = [r for r in runs if "error" not in r]
    count = ok[0]["objects"] if ok else bench.opts.import_objects
    rss = median(bench.value(name, "peak_rss_max_mb"))
    finished = [r for r in ok if r.get("end_to_end_objects_s")]
    if ok and len(finished) == len(ok):
        after = f"end to end {fmt_int(median([r['end_to_end_objects_s'] for r in finished]))} obj/s"
    else:
        share = median([r["evaluated_share"] for r in ok])
        after = f"{fmt_pct(share)} evaluated {fmt_int(bench.opts.import_finish_wait_s)} s after the last line"
    rows.append(
        {
            "config": name,
            "scenario": f"(d) import of {count:,} objects, {len(runs)} round(s)",
            "mode": mode,
            "result": f"{fmt_int(median(bench.value(name, 'ingest_objects_s')))} obj/s committed, peak RSS "
            f"{fmt_int(rss)} MB; evaluated {fmt_int(median(bench.value(name, 'evaluation_objects_s')))} obj/s, "
            + after,
            "ceiling": f"import rows {fmt_int(median(ceilings))} obj/s",
            "ratio": median(paired_ratios(bench, name, "ingest_objects_s", ceiling_name, "objects_per_s")),
            "target": f"RSS < {import_bench.RSS_LIMIT_MB} MB",
            "verdict": "—" if rss is None else ("ok" if rss < import_bench.RSS_LIMIT_MB else "over"),
            "rounds": bench.value(name, "ingest_objects_s"),
        }
    )
    return rows


def verdict(ratio: float | None, target: float) -> str:
    if ratio is None:
        return "—"
    return "ok" if ratio >= target else "MISS"


def queue_summary(bench: Bench, name: str) -> str:
    return queue_state([r["queue"] for r in bench.runs if r["config"] == name and isinstance(r.get("queue"), dict)])


def queue_state(queues: list[dict]) -> str:
    if not queues:
        return "—"
    bounded = sum(1 for q in queues if q["bounded"])
    keep_up = median([q["worker_vs_ingest"] for q in queues if q.get("worker_vs_ingest") is not None])
    growth = median([q["growth_jobs_s"] for q in queues if q.get("growth_jobs_s") is not None])
    depth = median([q["depth_max"] for q in queues if q.get("depth_max") is not None])
    state = "bounded" if bounded == len(queues) else f"GROWING in {len(queues) - bounded}/{len(queues)} runs"
    return f"{state}; worker {fmt_pct(keep_up)} of ingest, depth max {fmt_int(depth)}, growth {fmt_int(growth)} jobs/s"


def outbox_summary(outboxes: list[dict]) -> str:
    """(c): webhook messages waiting for delivery during the timed runs."""
    if not outboxes:
        return "—"
    bounded = sum(1 for o in outboxes if o["bounded"])
    state = "bounded" if bounded == len(outboxes) else f"GROWING in {len(outboxes) - bounded}/{len(outboxes)} runs"
    depth = median([o["depth_max"] for o in outboxes])
    growth = median([o["growth_s"] for o in outboxes if o.get("growth_s") is not None])
    return f"webhook outbox {state}, depth max {fmt_int(depth)}, growth {fmt_int(growth)} messages/s"


def noise_summary(bench: Bench, name: str) -> str:
    return noise_text([r["cpu_pct"].get("other", 0) for r in bench.runs if r["config"] == name and r.get("cpu_pct")])


def noise_text(others: list[float]) -> str:
    if not others:
        return ""
    worst = max(others)
    flag = " (NOISY: something else ran)" if worst > 25 else ""
    return f"other processes used {statistics.median(others):.0f} % of a core (max {worst:.0f} %){flag}"


def durable_summary(bench: Bench, name: str) -> str:
    checks = [r["durable_check"] for r in bench.runs if r["config"] == name and "durable_check" in r]
    if not checks:
        return "—"
    bad = [c for c in checks if not c["ok"]]
    return "every acknowledged object stored" if not bad else f"MISSING rows in {len(bad)} run(s)"


def render(rows: list[dict]) -> str:
    lines = []
    header = ("scenario", "mode", "median result", "ceiling (median)", "ratio", "target", "verdict")
    table = [header]
    for row in rows:
        target = row.get("target")
        target_text = f">= {target * 100:.0f} %" if isinstance(target, float) else (target or "")
        table.append(
            (
                row["scenario"],
                row["mode"],
                row["result"],
                row.get("ceiling", ""),
                fmt_pct(row.get("ratio")) if "ratio" in row and row.get("ratio") is not None else "",
                target_text,
                row.get("verdict", ""),
            )
        )
    widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
    for index, row in enumerate(table):
        lines.append(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("-+-".join("-" * w for w in widths))
    notes = []
    for row in rows:
        parts = [row[k] for k in ("probes", "queue", "outbox", "durable", "noise") if row.get(k) and row[k] != "—"]
        parts += [f"ERROR: {e}" for e in row.get("errors", [])]
        if parts:
            notes.append(f"  {row['mode']:6} {row['scenario']}: " + "; ".join(parts))
    if notes:
        lines += [
            "",
            "Queue depth (rows in jobs) during the timed runs, (c) probes, durability checks, machine noise:",
            *notes,
        ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    for name in (
        "vigil",
        "uvicorn",
        "uvloop",
        "httptools",
        "starlette",
        "msgspec",
        "sqlalchemy",
        "asyncpg",
        "aiosqlite",
    ):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "?"
    return out


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)
        return out.stdout.strip()

    return {"commit": git("rev-parse", "HEAD"), "uncommitted_in_src": git("status", "--porcelain", "src").splitlines()}


def main() -> None:
    parser = argparse.ArgumentParser(description="Vigil benchmark harness (see bench/README.md).")
    parser.add_argument("--quick", action="store_true", help="smoke check: 1 round of 1 s warm-up + 3 s runs")
    parser.add_argument("--rounds", type=int, help="rounds (each scenario's result is their median); default 3")
    parser.add_argument("--duration", type=int, help="seconds per timed run (default 10, quick 3)")
    parser.add_argument("--warmup", type=int, help="seconds of warm-up before each timed run (default 2, quick 1)")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated parts of config names (between '/', '-' or an end), e.g. 'sqlite,ceiling/http', "
        "'pg/a,pg/b1000,storage-pg', 'c0', 'pg/c', 'd'",
    )
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("VIGIL_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="an admin connection to a local PostgreSQL; scratch databases "
        f"{SCRATCH_DB} and {SCRATCH_CEILING_DB} are created and dropped through it",
    )
    parser.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL configurations")
    parser.add_argument(
        "--profile", action="store_true", help="sample Vigil's processes with py-spy during (a)/(b) runs"
    )
    parser.add_argument(
        "--rev",
        default="",
        help="measure the code of this git revision (e.g. HEAD) from a snapshot of src/, instead of the "
        "working tree as installed in .venv",
    )
    parser.add_argument(
        "--import-objects",
        type=int,
        help="objects in the (d) import file (default 1,000,000; --quick 50,000)",
    )
    parser.add_argument(
        "--import-rounds",
        type=int,
        help="in how many rounds (the first ones) (d) runs: default 1 with 1,000,000 objects or more "
        "(one import takes ~3 min per mode), else every round; 0 skips (d)",
    )
    parser.add_argument(
        "--webhook-probes",
        type=int,
        help="(c): open-loop probes searching for the sustained rate, after the saturation run (default 3, quick 2)",
    )
    parser.add_argument("--out", default="", help="JSON results path (default bench/results/bench-<time>.json)")
    args = parser.parse_args()

    quick = args.quick
    rounds = args.rounds or (1 if quick else 3)
    import_objects = args.import_objects or (50_000 if quick else 1_000_000)
    opts = Options(
        rounds=rounds,
        duration=args.duration or (3 if quick else 10),
        warmup=args.warmup if args.warmup is not None else (1 if quick else 2),
        drain_s=3,
        only=[t.strip() for t in args.only.split(",") if t.strip()],
        loadgen=args.loadgen,
        wrk=None,
        pg_admin_url=None if args.no_pg else args.pg_url,
        profile=args.profile,
        import_objects=import_objects,
        import_finish_wait_s=20 if quick else 30,
        webhook_grace_s=10,
        webhook_probes=max(1, args.webhook_probes or (2 if quick else 3)),
        import_rounds=min(
            rounds,
            args.import_rounds if args.import_rounds is not None else (1 if import_objects >= 1_000_000 else rounds),
        ),
    )
    if opts.pg_admin_url:
        local_only(opts.pg_admin_url)
        try:
            pg_run(opts.pg_admin_url, lambda c: c.fetchval("SELECT 1"))
        except Exception as exc:
            log(f"PostgreSQL at {opts.pg_admin_url} is unreachable ({exc!r}): skipping the PostgreSQL configurations")
            opts.pg_admin_url = None
    opts.wrk = find_wrk(opts.loadgen)

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_path = Path(args.out) if args.out else RESULTS / f"bench-{stamp}.json"
    logdir = RESULTS / f"logs-{stamp}"
    logdir.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix="vigil-bench-"))
    global SNAPSHOT
    measured = "working tree"
    if args.rev:
        SNAPSHOT, commit = snapshot_source(args.rev, tmpdir)
        measured = f"{args.rev} = {commit}"
    bench = Bench(opts, tmpdir, logdir)
    modes = ["sqlite"] + (["pg"] if opts.pg_admin_url else [])
    started = time.time()
    log(
        f"load generator: {'wrk ' + opts.wrk if opts.wrk else 'Python (bench/loadgen.py)'}; "
        f"rounds {opts.rounds} ((d): {opts.import_rounds}), "
        f"{opts.warmup} s warm-up + {opts.duration} s per run; modes {modes}; results {out_path}"
    )
    try:
        for round_no in range(1, opts.rounds + 1):
            load1 = os.getloadavg()[0]
            log(f"round {round_no}/{opts.rounds} (load average {load1:.2f})")
            blocks: list[tuple[str, Callable[[], None]]] = []
            if opts.wanted("ceiling/http"):
                blocks.append(("http", lambda r=round_no: bench.http_ceiling(r)))
            for mode in modes:
                blocks.append((mode, lambda m=mode, r=round_no: bench.vigil_block(m, r)))
                blocks.append((mode, lambda m=mode, r=round_no: bench.storage_ceilings(m, r)))
                blocks.append((mode, lambda m=mode, r=round_no: bench.import_block(m, r)))
            # Rotate the mode order each round so no configuration always runs first or last.
            if len(modes) == 2 and round_no % 2 == 0:
                blocks.sort(key=lambda b: {"http": 0, "pg": 1, "sqlite": 2}[b[0]])
            for _, block in blocks:
                if STOP.is_set():
                    break
                block()
            if STOP.is_set():
                break
    except KeyboardInterrupt:
        STOP.set()
        log("interrupted: writing what was measured")
    finally:
        if opts.pg_admin_url:
            for name in (SCRATCH_DB, SCRATCH_CEILING_DB):
                try:
                    pg_recreate(opts.pg_admin_url, name, drop_only=True)
                except Exception as exc:
                    log(f"could not drop scratch database {name}: {exc!r}")
        shutil.rmtree(tmpdir, ignore_errors=True)

    rows, table = summarize(bench)
    document = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "seconds": round(time.time() - started),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_end": os.getloadavg(),
        },
        "versions": versions(),
        "git": git_state(),
        "code_measured": measured,
        "options": {
            "rounds": opts.rounds,
            "duration_s": opts.duration,
            "warmup_s": opts.warmup,
            "load_generator": f"wrk ({opts.wrk})" if opts.wrk else "python loadgen.py",
            "connections": {"a": opts.conc_single, "b100": opts.conc_b100, "b1000": opts.conc_b1000},
            "storage_ceiling_pg_connections": opts.storage_conc_pg,
            "import_objects": opts.import_objects,
            "import_finish_wait_s": opts.import_finish_wait_s,
            "webhook_grace_s": opts.webhook_grace_s,
            "webhook_probes": opts.webhook_probes,
            "webhook_keep_up_share": opts.keep_up_share,
            "import_rounds": opts.import_rounds,
            "only": opts.only,
        },
        "table": rows,
        "runs": bench.runs,
        "logs": str(logdir),
    }
    out_path.write_text(json.dumps(document, indent=1, default=str))
    print()
    print(
        f"Vigil benchmark: {opts.rounds} round(s) of {opts.warmup} s warm-up + {opts.duration} s per run "
        f"((d) import: {opts.import_rounds} round(s) of {opts.import_objects:,} objects); "
        f"load: {document['options']['load_generator']}; code: {measured}; "
        "medians over rounds; ratio = median of per-round ratios"
    )
    print(table)
    print()
    print(f"results: {out_path}  (process logs: {logdir})")
    print(f"took {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
