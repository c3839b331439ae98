"""Fixtures: each test runs against SQLite and PostgreSQL, through a real `vigil serve`.

PostgreSQL comes from VIGIL_TEST_POSTGRES_URL (a database the tests may create databases
from). Without it those tests skip with a reason; in CI (CI=true) its absence is a failure.
Tests are isolated by team: each test gets a new team and key, and a team sees only its own
data, so one server per backend serves the whole session.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers import Process, Team, create_key, free_port, query, start, vigil_env

POSTGRES_ENV = "VIGIL_TEST_POSTGRES_URL"
WEBHOOK_SCHEDULE_S = "0,0.3,0.5,1,1,2,2,3"


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    workdir: Path


def _postgres_database(tmp: Path) -> str:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{POSTGRES_ENV} is not set, and CI needs the PostgreSQL tests to run")
        pytest.skip(f"PostgreSQL tests skipped: set {POSTGRES_ENV}=postgresql://user@host:port/db to run them")
    name = f"vigil_test_{secrets.token_hex(4)}"
    try:
        query(base, "SELECT 1")
    except Exception as exc:  # the server is not there
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {base} is unreachable in CI: {exc}")
        pytest.skip(f"PostgreSQL tests skipped: {base} is unreachable ({exc.__class__.__name__})")
    _autocommit(base, f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + "/" + name


def _autocommit(url: str, sql: str) -> None:
    import asyncio

    import asyncpg

    async def go() -> None:
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(go())


def make_backend(name: str, tmp: Path) -> Backend:
    if name == "sqlite":
        return Backend(name, f"sqlite:///{tmp / 'vigil.db'}", tmp)
    return Backend(name, _postgres_database(tmp), tmp)


def drop_backend(backend: Backend) -> None:
    if backend.name == "postgres":
        base = os.environ[POSTGRES_ENV]
        name = backend.database_url.rsplit("/", 1)[1]
        _autocommit(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    chosen = make_backend(request.param, tmp_path_factory.mktemp(request.param))
    yield chosen
    drop_backend(chosen)


@pytest.fixture
def fresh_backend(request: pytest.FixtureRequest, backend: Backend, tmp_path: Path) -> Iterator[Backend]:
    """A database of its own, for tests that stop and start processes or count global state."""
    chosen = make_backend(backend.name, tmp_path)
    yield chosen
    drop_backend(chosen)


@pytest.fixture(scope="session")
def server(backend: Backend) -> Iterator[Process]:
    """One `vigil serve` (API + worker) per backend for the session."""
    port = free_port()
    env = vigil_env(
        backend.database_url,
        VIGIL_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        VIGIL_AUTH_CACHE_TTL_S="0",
        # A compressed retry schedule (≈ 10 s in all) and a short timeout keep webhook tests fast.
        VIGIL_WEBHOOK_RETRY_SCHEDULE_S=WEBHOOK_SCHEDULE_S,
        VIGIL_WEBHOOK_TIMEOUT_S="3",
    )
    process = start(["serve", "--port", str(port)], env, backend.workdir / "serve.log", port)
    yield process
    process.stop()


@pytest.fixture
def team(backend: Backend, server: Process) -> Team:
    return create_key(backend.database_url, f"team-{secrets.token_hex(6)}")


@pytest.fixture
def client(server: Process) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield http
