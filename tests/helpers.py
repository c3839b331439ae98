"""Test helpers: free ports, a `vigil` subprocess, direct database reads, keys."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from vigil.store.db import Database, async_url

VIGIL = [sys.executable, "-m", "vigil.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def vigil_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update({"VIGIL_DATABASE_URL": database_url, "VIGIL_LOG_LEVEL": "warning"})
    env.update(extra)
    return env


@dataclass
class Process:
    """A `vigil …` command running as a real subprocess."""

    popen: subprocess.Popen[bytes]
    log_path: Path
    base_url: str | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def start(args: Sequence[str], env: dict[str, str], log_path: Path, port: int | None = None) -> Process:
    log_file = open(log_path, "ab")  # noqa: SIM115 - closed with the process
    popen = subprocess.Popen([*VIGIL, *args], env=env, stdout=log_file, stderr=subprocess.STDOUT)
    log_file.close()
    process = Process(popen, log_path, f"http://127.0.0.1:{port}" if port else None)
    if port:
        try:
            wait_healthy(process)
        except BaseException:
            process.kill()
            raise
    return process


def wait_healthy(process: Process, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"vigil exited with {process.popen.returncode}:\n{process.log()}")
        try:
            if httpx.get(f"{process.base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"vigil did not become ready in {timeout_s}s:\n{process.log()}")


def run_sync(coro: Any) -> Any:
    return asyncio.run(coro)


def query(database_url: str, sql: str, params: dict[str, Any] | None = None) -> list[sa.Row]:
    """Read the database directly, as a test's evidence of stored state."""

    async def go() -> list[sa.Row]:
        engine = create_async_engine(async_url(database_url), poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(sa.text(sql), params or {})).all())
        finally:
            await engine.dispose()

    return run_sync(go())


@dataclass(frozen=True)
class Team:
    name: str
    team_id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def create_key(database_url: str, team: str, scopes: list[str] | None = None) -> Team:
    from vigil.service import keys

    async def go() -> Team:
        db = Database(database_url, 1)
        try:
            key, record = await keys.create(db, team, scopes)
            return Team(team, record.team_id, key)
        finally:
            await db.dispose()

    return run_sync(go())


def wait_status(
    client: httpx.Client, namespace: str, request_id: str, headers: dict[str, str], timeout_s: float = 30.0
) -> dict[str, Any]:
    """Poll a request until it is terminal; returns the last status answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = client.get(f"/v1/data/{namespace}/requests/{request_id}", headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        if body["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.05)
