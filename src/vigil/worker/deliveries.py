"""The webhook dispatcher: claims due messages, sends them concurrently, records outcomes.

- Many deliveries are in flight at once over one pooled aiohttp session, at most
  `webhook_endpoint_concurrency` per endpoint, so a slow endpoint fills its own slots and
  never those of the others.
- Messages are claimed per endpoint under a lease (store/webhook_messages.py); the claim
  query keeps each object's messages in order. Up to two rounds of an endpoint's
  concurrency are held at once (one sending, one waiting for a slot), and an endpoint is
  claimed for again only when a whole round of room is free: one claim transaction per
  round of messages, not one per finished delivery (that made the claim rate the delivery
  rate: ~100/s on PostgreSQL). A waiting message starts within one send's timeout, well
  inside its lease (2 × timeout + 5 s).
- Outcomes are written in batches by one recorder task: one transaction, one UPDATE, for
  many deliveries.
- A worker that dies mid-delivery leaves its messages pending; they are sent again when
  the lease runs out (at-least-once: the same `webhook-id` may arrive twice, never zero times).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import structlog

from vigil import metrics
from vigil.config import Settings
from vigil.delivery import schedule, sign
from vigil.delivery.send import Outcome, Sender
from vigil.errors import StoreUnavailable
from vigil.service import webhook_outcomes
from vigil.store import statistics, webhook_endpoints, webhook_messages
from vigil.store.clock import now_ms
from vigil.store.db import Database

log = structlog.get_logger("vigil.deliveries")

RECORD_EVERY_S = 0.02  # outcomes wait at most this long to share a transaction
PRUNE_EVERY_S = 300.0


@dataclass(frozen=True)
class Finished:
    claimed: webhook_messages.Claimed
    token: str
    started_ms: int
    outcome: Outcome


class Dispatcher:
    def __init__(self, db: Database, settings: Settings, stopping: asyncio.Event) -> None:
        self._db = db
        self._stopping = stopping
        self._timeout_s = settings.webhook_timeout_s
        self._sender = Sender(settings.webhook_timeout_s, max_connections=settings.webhook_max_in_flight)
        self._policy = webhook_outcomes.Policy(
            schedule=schedule.parse_schedule(settings.webhook_retry_schedule_s),
            disable_after_ms=int(settings.webhook_disable_after_s * 1000),
        )
        # Long enough for a send that times out plus recording its outcome.
        self._lease_ms = int((2 * settings.webhook_timeout_s + 5) * 1000)
        self._max_in_flight = settings.webhook_max_in_flight
        self._per_endpoint = settings.webhook_endpoint_concurrency
        self._poll_s = settings.worker_poll_interval_ms / 1000
        self._retention_ms = int(settings.webhook_retention_days * 86400 * 1000)
        self._held: dict[str, int] = defaultdict(int)  # claimed, not yet finished, per endpoint
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._finished: list[Finished] = []
        self._finished_ready = asyncio.Event()
        self.wakeup = asyncio.Event()
        self._claims = statistics.ClaimWatch("webhook_messages")  # a slow claim refreshes its statistics

    async def run(self) -> None:
        recorder = asyncio.create_task(self._record_forever())
        pruner = asyncio.create_task(self._prune_forever())
        try:
            await self._claim_forever()
            if self._tasks:  # let deliveries in flight finish and be recorded
                await asyncio.wait(self._tasks, timeout=self._timeout_s + 1)
        finally:
            self._finished_ready.set()
            recorder.cancel()
            pruner.cancel()
            await asyncio.gather(recorder, pruner, return_exceptions=True)
            await self._record(self._take_finished())
            await self._sender.close()

    async def _claim_forever(self) -> None:
        while not self._stopping.is_set():
            self.wakeup.clear()
            try:
                started = await self._claim_and_start()
            except StoreUnavailable as exc:
                log.warning("deliveries.store_unavailable", error=str(exc))
                started = 0
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("deliveries.claim_failed")
                started = 0
                await asyncio.sleep(1.0)
            if started:
                continue
            try:
                await asyncio.wait_for(self.wakeup.wait(), self._poll_s)
            except TimeoutError:
                pass

    async def _claim_and_start(self) -> int:
        free = self._max_in_flight - len(self._tasks)
        if free <= 0:
            return 0
        token = secrets.token_hex(12)
        now = now_ms()
        started = time.monotonic()
        # Most wake-ups (each batch that wrote messages, each recorded outcome) find nothing due: look
        # first with a plain read. On PostgreSQL the claims then run outside a transaction
        # (BEGIN and COMMIT were two of the five round trips): each endpoint's claim is one
        # statement, all or nothing, but not the set of them, so if a later one fails, those
        # already claimed wait for their lease (2 × timeout + 5 s) instead of a rollback.
        # SQLite writes only under its write lock.
        claimed: list[webhook_messages.Claimed] = []
        endpoints: dict[str, webhook_endpoints.Endpoint] = {}
        async with self._db.direct() as conn:
            due = await webhook_messages.due_endpoints(conn, now)
            if due and not self._db.is_sqlite:
                claimed, endpoints = await self._claim_due(conn, due, token, now, free)
        if due and self._db.is_sqlite:
            async with self._db.write_direct() as conn:
                claimed, endpoints = await self._claim_due(conn, due, token, now, free)
        await self._claims.claimed(self._db, time.monotonic() - started)
        for item in claimed:
            endpoint = endpoints.get(item.endpoint_id)
            if endpoint is None:  # deleted between claim and read: its messages went with it
                continue
            self._held[item.endpoint_id] += 1
            task = asyncio.create_task(self._deliver(item, token, endpoint))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(claimed)

    async def _claim_due(
        self, conn: Any, due: list[str], token: str, now: int, free: int
    ) -> tuple[list[webhook_messages.Claimed], dict[str, webhook_endpoints.Endpoint]]:
        """Claim messages of the `due` endpoints that have a round of room, up to `free` in all."""
        claimed: list[webhook_messages.Claimed] = []
        for endpoint_id in sorted(due):
            room = 2 * self._per_endpoint - self._held[endpoint_id]
            take = min(room, free - len(claimed))
            if room < self._per_endpoint or take <= 0:
                continue
            claimed += await webhook_messages.claim(conn, token, take, now, self._lease_ms, endpoint_id)
        endpoints = await webhook_endpoints.by_ids(conn, [c.endpoint_id for c in claimed]) if claimed else {}
        return claimed, endpoints

    async def _deliver(self, item: webhook_messages.Claimed, token: str, endpoint: webhook_endpoints.Endpoint) -> None:
        slots = self._slots.get(item.endpoint_id)
        if slots is None:
            slots = self._slots[item.endpoint_id] = asyncio.Semaphore(self._per_endpoint)
        try:
            async with slots:
                await self._send(item, token, endpoint)
        finally:
            self._held[item.endpoint_id] = held = self._held[item.endpoint_id] - 1
            if held in (0, self._per_endpoint):  # a round of room is free again
                self.wakeup.set()

    async def _send(self, item: webhook_messages.Claimed, token: str, endpoint: webhook_endpoints.Endpoint) -> None:
        started = now_ms()
        body = item.payload.encode()
        headers = {
            **endpoint.headers,
            "content-type": "application/json",
            "user-agent": "Vigil-Webhooks/1",
            **sign.headers(endpoint.signing_secrets(started), item.id, started // 1000, body),
        }
        clock = time.perf_counter()
        outcome = await self._sender.send(endpoint.url, body, headers)
        metrics.WEBHOOK_SECONDS.observe(time.perf_counter() - clock)
        metrics.WEBHOOK_DELIVERIES.labels("succeeded" if outcome.succeeded else "failed").inc()
        self._finished.append(Finished(item, token, started, outcome))
        self._finished_ready.set()

    def _take_finished(self) -> list[Finished]:
        taken, self._finished = self._finished, []
        return taken

    async def _record_forever(self) -> None:
        while True:
            await self._finished_ready.wait()
            self._finished_ready.clear()
            await asyncio.sleep(RECORD_EVERY_S)
            await self._record(self._take_finished())

    async def _record(self, finished: list[Finished]) -> None:
        if not finished:
            return
        try:
            await webhook_outcomes.record(self._db, self._policy, finished)
        except Exception:
            # Not recorded: the messages stay pending and are sent again after their lease.
            log.exception("deliveries.record_failed", deliveries=len(finished))
            return
        self.wakeup.set()  # the next message of each object delivered is claimable now

    async def _prune_forever(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_EVERY_S)
            try:
                async with self._db.write() as conn:
                    pruned = await webhook_messages.prune(conn, now_ms() - self._retention_ms)
                if pruned:
                    log.info("deliveries.pruned", messages=pruned)
            except Exception:
                log.exception("deliveries.prune_failed")
