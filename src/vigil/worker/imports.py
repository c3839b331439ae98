"""The import runner: one loop per worker process that takes import jobs through their phases
(service/imports.py: wait for the upload, read in chunks, wait for the evaluations, build the
results file). One import is read at a time per process; several workers read several."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from vigil.config import Settings
from vigil.errors import StoreUnavailable
from vigil.service import imports
from vigil.store.db import Database

log = structlog.get_logger("vigil.worker.imports")


class ImportRunner:
    def __init__(
        self, db: Database, settings: Settings, stopping: asyncio.Event, jobs_committed: Callable[[], None]
    ) -> None:
        self._db = db
        self._jobs_committed = jobs_committed
        self._settings = settings
        self._stopping = stopping
        self._policy = imports.RunnerPolicy(
            lease_ms=int(settings.job_lease_s * 1000),
            chunk_lines=settings.import_chunk_lines,
            chunk_bytes=settings.import_chunk_bytes,
            max_line_bytes=settings.max_object_bytes,
        )
        self._poll_s = settings.worker_poll_interval_ms / 1000

    async def run(self) -> None:
        env: imports.ImportEnv | None = None
        while not self._stopping.is_set():
            worked = False
            try:
                if env is None:
                    env = await imports.open_env(self._db, self._settings)
                worked = await imports.run_once(
                    self._db, env, self._policy, self._stopping.is_set, self._jobs_committed
                )
            except StoreUnavailable as exc:
                log.warning("imports.store_unavailable", error=str(exc))
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("imports.run_failed")
                await asyncio.sleep(1.0)
            if worked:
                continue
            try:
                await asyncio.wait_for(self._stopping.wait(), self._poll_s)
            except TimeoutError:
                pass
