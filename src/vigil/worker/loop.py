"""The worker: a few claim loops per process, each taking a batch of jobs at a time."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import structlog

from vigil.config import Settings
from vigil.errors import StoreUnavailable
from vigil.service import evaluation
from vigil.store import notify, wake
from vigil.store.db import Database
from vigil.worker.deliveries import Dispatcher
from vigil.worker.imports import ImportRunner

log = structlog.get_logger("vigil.worker")

# A loop whose last batch held at least this many jobs waits VIGIL_WORKER_GATHER_MS after a
# wake-up before it claims: jobs are arriving fast, and a bigger batch costs less per job.
# Below it (one job per commit, at low rates) a wake-up is claimed at once.
GATHER_FROM_BATCH = 8


class Wakeup:
    """Tells every claim loop that jobs were committed: one flag per loop, which only that
    loop clears (just before it claims).

    Where commits wake the worker (PostgreSQL's NOTIFY, the API in the same process), a loop
    that claimed every ready job goes straight to waiting after its batch, without claiming
    again to find the queue empty; its own flag, set by what was committed since its claim,
    is what keeps that safe. One shared flag would not be: another loop's claim could clear it
    while the job it announced was still held back behind a version in this loop's batch."""

    def __init__(self, loops: int) -> None:
        self.flags = [asyncio.Event() for _ in range(loops)]

    def set(self) -> None:
        for flag in self.flags:
            flag.set()


class Worker:
    def __init__(self, db: Database, settings: Settings, api_in_process: bool = False) -> None:
        self._db = db
        # Whether every commit of jobs wakes this worker: the API in the same process, NOTIFY on
        # PostgreSQL, a datagram from the API processes on SQLite (store/wake.py). If not (an
        # in-memory SQLite database), after a batch it claims again at once instead of waiting.
        self._api_in_process = api_in_process
        self._commits_wake = api_in_process or db.listen_dsn is not None or db.wake_folder is not None
        self._policy = evaluation.Policy(
            batch_size=settings.worker_batch_size,
            lease_ms=int(settings.job_lease_s * 1000),
            max_attempts=settings.job_max_attempts,
            base_url=settings.public_base_url,
        )
        self._poll_s = settings.worker_poll_interval_ms / 1000
        self._gather_s = settings.worker_gather_ms / 1000
        self._concurrency = settings.worker_concurrency
        # Set by NOTIFY, by this process's import runner and by an in-process API when jobs
        # are committed, so the worker need not wait a poll.
        self.wakeup = Wakeup(self._concurrency)
        self._stopping = asyncio.Event()
        self._imports = ImportRunner(db, settings, self._stopping, self.wakeup.set)
        self._deliveries = Dispatcher(db, settings, self._stopping)

    async def run(self) -> None:
        log.info("worker.started", loops=self._concurrency)
        listeners = []
        if self._db.listen_dsn is not None:
            listeners.append(
                notify.listen_forever(self._db.listen_dsn, notify.JOBS_CHANNEL, self.wakeup.set, self._stopping)
            )
        elif self._db.wake_folder is not None and not self._api_in_process:
            listeners.append(self._listen_for_datagrams(self._db.wake_folder))
        await asyncio.gather(
            *(self._loop(n) for n in range(self._concurrency)),
            self._imports.run(),
            self._deliveries.run(),
            *listeners,
        )
        log.info("worker.stopped")

    async def _listen_for_datagrams(self, folder: Path) -> None:
        try:
            await wake.listen_forever(folder, self.wakeup.set, self._stopping)
        except OSError as exc:
            # Nothing will wake this worker: after a batch it claims again at once, and it
            # finds what comes later by its poll.
            log.warning("worker.wake_socket_failed", folder=str(folder), error=str(exc))
            self._commits_wake = False

    def stop(self) -> None:
        self._stopping.set()
        self.wakeup.set()
        self._deliveries.wakeup.set()

    async def _loop(self, number: int) -> None:
        wakeup = self.wakeup.flags[number]
        # SQLite: each finish claims the next batch (one write transaction a batch, not two),
        # unless the worker is stopping by then.
        chain = (lambda: not self._stopping.is_set()) if self._db.is_sqlite else False
        pending: evaluation.Claim | None = None
        while not self._stopping.is_set() or pending is not None:
            # Cleared before claiming, so a commit during the batch still wakes the wait below.
            wakeup.clear()
            try:
                batch = await evaluation.run_once(self._db, self._policy, pending, chain=chain)
            except StoreUnavailable as exc:
                # A claimed batch that was not finished returns to the queue when its lease ends.
                log.warning("worker.store_unavailable", loop=number, error=str(exc))
                batch = evaluation.Batch(0, False)
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("worker.batch_failed", loop=number)
                batch = evaluation.Batch(0, False)
                await asyncio.sleep(1.0)
            pending = batch.following
            if batch.messages:
                # Not after every batch: without webhooks that was a claim of due messages (a
                # statement and a loop turn) per batch, to find none.
                self._deliveries.wakeup.set()
            if pending is not None or batch.more or (batch.claimed and not self._commits_wake):
                # On SQLite a batch may never wait for I/O (its statements run on this thread):
                # let the event loop's other tasks (an in-process API) run between batches.
                await asyncio.sleep(0)
                continue
            try:
                await asyncio.wait_for(wakeup.wait(), self._poll_s)
            except TimeoutError:
                continue
            if self._gather_s and batch.claimed >= GATHER_FROM_BATCH:
                # Under load each commit of the API woke this loop for a few jobs: a claim and a
                # finish (two write transactions, on SQLite each holding the one write lock) per
                # handful. `vigil serve` on SQLite at single-object saturation, three pairs: the
                # worker's CPU per object -12 to -19 %, requests a second +3 to +7 %.
                with contextlib.suppress(TimeoutError):  # stop() cuts it short
                    await asyncio.wait_for(self._stopping.wait(), self._gather_s)
