"""The `vigil` command."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import stat
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import structlog
import typer

from vigil import logs
from vigil.config import Settings, SettingsError, get_settings, unknown_variables

app = typer.Typer(help="Vigil: a self-hostable trust-and-safety data platform.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return asyncio.run(coro)


def _settings() -> Settings:
    try:
        settings = get_settings()
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    logs.configure(settings.log_level, settings.log_json)
    for name in unknown_variables(dict(os.environ)):
        typer.echo(f"warning: {name} is not a Vigil setting (see docs/configuration.md); ignored", err=True)
    return settings


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


async def _migrate(settings: Settings) -> None:
    from vigil.store import migrate

    await migrate.upgrade(settings.database_url)


@app.command()
def migrate() -> None:
    """Create the database or bring it to the newest schema."""
    settings = _settings()
    _run(_migrate(settings))
    typer.echo("database is at the newest schema")


def _install_stop(stop: Any) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)


async def _serve(
    settings: Settings,
    host: str,
    port: int,
    with_api: bool,
    with_worker: bool,
    migrate_db: bool,
    metrics_port: int | None = None,
    stop_on_stdin_eof: bool = False,
) -> None:
    import uvicorn

    from vigil.store.db import Database

    if migrate_db:
        await _migrate(settings)
    db = Database(settings.database_url, settings.db_pool_size, worker=with_worker and not with_api)
    worker_db = db
    tasks = []
    worker = None
    child = None
    server = None
    # `vigil serve` runs its worker as a child process (worker/child.py) unless told otherwise,
    # or unless the database lives in this process's memory (an in-memory SQLite database).
    if with_worker and with_api and settings.serve_worker == "process" and db.shareable:
        from vigil.worker.child import WorkerChild

        child = WorkerChild()
        supervising = asyncio.create_task(child.run())
        supervising.add_done_callback(_log_failure)
        tasks.append(supervising)
    elif with_worker:
        from vigil.worker.loop import Worker

        # An inline worker on PostgreSQL gets sessions of its own (store/db.py); on SQLite it
        # must share the API's handle, which holds the one write lock.
        worker_db = db if db.is_sqlite or not with_api else Database(settings.database_url, 4, worker=True)
        worker = Worker(worker_db, settings, api_in_process=with_api)
        tasks.append(asyncio.create_task(worker.run()))
    if with_api:
        from vigil.api.app import create_app

        on_commit = worker.wakeup.set if worker else None
        if db.wake_folder is not None:
            from vigil.store.wake import Announcer

            # Wakes `vigil worker` processes on this SQLite file (`vigil serve`'s child among them).
            announce = Announcer(db.wake_folder)
            wake_worker = on_commit
            on_commit = announce if wake_worker is None else lambda: (wake_worker(), announce())
        merge_from = (lambda: (child.metrics_port,) if child.metrics_port else ()) if child else tuple
        api = create_app(settings, db, on_commit=on_commit, merge_metrics_from=merge_from)
        config = uvicorn.Config(
            api, host=host, port=port, loop="none", http="httptools", lifespan="on",
            access_log=False, log_level="warning", timeout_graceful_shutdown=30,
        )  # fmt: skip
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        tasks.append(asyncio.create_task(server.serve()))

    # Everything made so far lives as long as the process (modules, engines, the app): moved
    # out of the cyclic GC's sight, so that full collections stop re-scanning it (measured in a
    # worker: a full collection took ~100 ms, landing on whatever request or batch was running).
    gc.collect()
    gc.freeze()

    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=host or "127.0.0.1")

    def stop() -> None:
        # The API stops first and drains its group commits; the worker is stopped after it.
        if server is not None:
            server.should_exit = True
            if child is not None:
                child.draining()
        elif worker is not None:
            worker.stop()

    _install_stop(stop)
    if stop_on_stdin_eof:
        _stop_at_stdin_eof(stop)
    try:
        if server is not None:
            # The API stops first (draining its commits); then the worker.
            await tasks[-1]
            if worker is not None:
                worker.stop()
            if child is not None:
                child.stop()
        await asyncio.gather(*tasks)
    finally:
        await db.dispose()
        if worker_db is not db:
            await worker_db.dispose()


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        structlog.get_logger("vigil.serve").error("serve.supervisor_failed", error=repr(task.exception()))


def _stop_at_stdin_eof(stop: Any) -> None:
    """`vigil serve`'s worker child: stdin is a pipe (or socket pair) from `vigil serve`, closed
    when it stops or dies; stop then, as after SIGTERM. Anything else on stdin (a terminal, a
    file, nothing) is ignored with a warning: only a pipe says when its writer is gone."""
    loop = asyncio.get_running_loop()
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        mode = 0
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        typer.echo("warning: --stop-on-stdin-eof needs stdin to be a pipe; ignored", err=True)
        return

    def readable() -> None:
        # Ready, so this read does not block: data (ignored) or end-of-file.
        try:
            data = os.read(0, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(0)
            stop()

    loop.add_reader(0, readable)


Host = Annotated[str, typer.Option(help="Address to listen on.")]
Port = Annotated[int, typer.Option(help="Port to listen on.")]
NoMigrate = Annotated[bool, typer.Option("--no-migrate", help="Do not migrate the database at start-up.")]


@app.command()
def serve(host: Host = "127.0.0.1", port: Port = 8000, no_migrate: NoMigrate = False) -> None:
    """Run the API and its worker child process (the embedded default)."""
    settings = _settings()
    typer.echo(f"Vigil listening on http://{host}:{port} (database: {_safe_url(settings.database_url)})", err=True)
    _run(_serve(settings, host, port, True, True, not no_migrate))


@app.command()
def api(host: Host = "127.0.0.1", port: Port = 8000, no_migrate: NoMigrate = False) -> None:
    """Run the HTTP API only (run workers with 'vigil worker')."""
    settings = _settings()
    _run(_serve(settings, host, port, True, False, not no_migrate))


@app.command()
def worker(
    no_migrate: NoMigrate = False,
    metrics_port: Annotated[int, typer.Option(help="Serve this worker's /metrics on 127.0.0.1:PORT (0: off).")] = 0,
    stop_on_stdin_eof: Annotated[
        bool, typer.Option(hidden=True, help="Stop when stdin closes (`vigil serve`'s worker child).")
    ] = False,
) -> None:
    """Run a worker only: claims evaluation jobs from the database."""
    settings = _settings()
    _run(_serve(settings, "", 0, False, True, not no_migrate, metrics_port or None, stop_on_stdin_eof))


@keys_app.command("create")
def keys_create(
    team: Annotated[str, typer.Option(help="Team (tenant) the key belongs to; created if new.")],
    scopes: Annotated[str, typer.Option(help="Comma-separated scopes; every scope when omitted.")] = "",
    name: Annotated[str, typer.Option(help="A label to tell keys apart.")] = "",
) -> None:
    """Create an API key. The last line printed is the key alone."""
    from vigil.errors import VigilError
    from vigil.service import keys
    from vigil.store.db import Database

    settings = _settings()

    async def create() -> tuple[str, Any]:
        await _migrate(settings)
        db = Database(settings.database_url, 1)
        try:
            return await keys.create(db, team, [s.strip() for s in scopes.split(",") if s.strip()], name)
        finally:
            await db.dispose()

    try:
        key, record = _run(create())
    except VigilError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"created key {record.id} for team {record.team_name} with scopes {' '.join(sorted(record.scopes))}")
    typer.echo("store it now; it is not shown again:")
    typer.echo(key)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (never the keys themselves: their first characters only)."""
    from vigil.service import keys
    from vigil.store.db import Database

    settings = _settings()

    async def listing() -> list[Any]:
        await _migrate(settings)
        db = Database(settings.database_url, 1)
        try:
            return await keys.list_all(db)
        finally:
            await db.dispose()

    for record in _run(listing()):
        state = "revoked" if record.revoked_at_ms else "active"
        typer.echo(
            f"{record.id}\t{record.team_name}\t{record.prefix}…\t{','.join(sorted(record.scopes))}\t{state}\t{record.name}"
        )


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…), as 'vigil keys list' shows.")],
) -> None:
    """Revoke a key. API processes stop accepting it within VIGIL_AUTH_CACHE_TTL_S."""
    from vigil.errors import VigilError
    from vigil.service import keys
    from vigil.store.db import Database

    settings = _settings()

    async def revoke() -> None:
        await _migrate(settings)
        db = Database(settings.database_url, 1)
        try:
            await keys.revoke(db, key_id)
        finally:
            await db.dispose()

    try:
        _run(revoke())
    except VigilError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"revoked {key_id}")


@app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(help="A JSONL file, one object with an 'id' per line (.gz: sent gzip-encoded).")
    ],
    namespace: Annotated[str, typer.Option(help="The namespace to import into.")],
    url: Annotated[
        str, typer.Option(envvar="SAFETYKIT_BASE_URL", help="The Vigil API's base URL.")
    ] = "http://127.0.0.1:8000",
    key: Annotated[str, typer.Option(envvar="SAFETYKIT_API_KEY", help="An API key with the data:write scope.")] = "",
    wait: Annotated[bool, typer.Option(help="Wait for the import to finish and print a summary.")] = True,
) -> None:
    """Bulk-import a JSONL file through the HTTP API, as any client would (docs/imports.md)."""
    import time

    import httpx

    if not key:
        typer.echo("error: give an API key with --key or SAFETYKIT_API_KEY", err=True)
        raise typer.Exit(2)
    size = file.stat().st_size
    lines = [0]

    def chunks(bar: Any) -> Any:
        with file.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                lines[0] += chunk.count(b"\n")
                bar.update(len(chunk))
                yield chunk

    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        created = client.post(f"/v1/data/{namespace}/requests/upload-url")
        if created.status_code != 200:
            typer.echo(f"error: {created.status_code} {created.text}", err=True)
            raise typer.Exit(1)
        answer = created.json()
        request_id = answer["requestId"]
        headers = {"Content-Length": str(size)}
        if file.suffix == ".gz":
            headers["Content-Encoding"] = "gzip"
        with typer.progressbar(length=size, label=f"uploading {file.name}", file=sys.stderr) as bar:
            # A bare client: the upload URL carries its own signature (or is S3's), not our key.
            put = httpx.put(answer["upload_url"], content=chunks(bar), headers=headers, timeout=600)
        if put.status_code >= 300:
            typer.echo(f"error: upload refused: {put.status_code} {put.text}", err=True)
            raise typer.Exit(1)
        typer.echo(f"uploaded {size} bytes as {request_id}", err=True)
        if not wait:
            typer.echo(request_id)
            return
        status_path = f"/v1/data/{namespace}/requests/{request_id}/results/download-url"
        # Lines are counted on the way up (of a .gz file, the compressed bytes: its lines are unknown).
        total = lines[0] if file.suffix != ".gz" else 0
        with typer.progressbar(length=max(total, 1), label="ingesting", file=sys.stderr) as bar:
            while True:
                polled = client.get(status_path)
                if polled.status_code != 200:
                    typer.echo(f"error: {polled.status_code} {polled.text}", err=True)
                    raise typer.Exit(1)
                status = polled.json()
                if total:
                    bar.update(min(status.get("lines_read", 0), total) - bar.pos)
                if status["status"] in ("succeeded", "failed"):
                    break
                time.sleep(0.5)
    typer.echo(
        f"{request_id} {status['status']}: {status.get('lines_accepted', 0)} objects accepted, "
        f"{status.get('lines_rejected', 0)} lines rejected, {status.get('lines_read', 0)} lines read"
    )
    if status["error_summary"]:
        typer.echo(f"errors: {status['error_summary']}")
    if status["data_url"]:
        typer.echo(f"results ({status['data_count']} lines, until {status['data_expires_at']}): {status['data_url']}")
        typer.echo(f"fresh URLs later: GET {url.rstrip('/')}{status_path}")
    if status["status"] != "succeeded":
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
