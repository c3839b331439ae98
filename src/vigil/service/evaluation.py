"""Evaluating claimed jobs: the worker's use case.

One claim transaction takes a batch of jobs; the engine evaluates them outside any
transaction; one finish transaction writes the decisions, removes the jobs (only those this
claim still holds) and counts the items off their requests. On SQLite a loop's finish also
claims its next batch (`chain`): one write transaction a batch.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import structlog

from vigil import metrics
from vigil.engine.models import EvaluationError
from vigil.errors import StoreUnavailable
from vigil.service import policies, webhook_events, webhooks
from vigil.store import decisions, evaluations, queue, requests, statistics
from vigil.store.clock import now_ms
from vigil.store.db import Database
from vigil.store.direct import sql

log = structlog.get_logger("vigil.evaluation")
YIELD_EVERY = 8  # objects evaluated between two turns of the event loop (≈ 2-4 ms of CPU)
_SUCCEEDED = metrics.EVALUATIONS.labels("succeeded")  # resolved once: labels() costs µs per call
_CLAIMS = statistics.ClaimWatch("jobs")  # a slow claim refreshes the queue's statistics


# Seconds before attempt n+1 of a failed evaluation: 1, 4, 16, 64 … capped at 10 minutes.
def retry_delay_s(attempts: int) -> float:
    return min(4.0 ** (attempts - 1), 600.0)


@dataclass(frozen=True)
class Policy:
    batch_size: int
    lease_ms: int
    max_attempts: int
    base_url: str = ""  # for the `url` of workflow events


@dataclass(frozen=True)
class Batch:
    claimed: int  # jobs claimed (0: none was ready)
    # Jobs may be ready now: the batch was full, or it held back a later version of one of its
    # objects, which its finish made claimable. Otherwise the claim took every ready job it
    # could see, and what is committed from now on wakes the worker where commits do
    # (worker/loop.py). Rarely a ready job is missed (skipped by SKIP LOCKED while another
    # transaction held it, which then rolled back): the poll takes it.
    more: bool
    messages: int = 0  # webhook messages the batch wrote (their dispatcher is woken only then)
    # SQLite, `chain`: the next batch, claimed in this one's finish transaction (None when it
    # was not asked for or found no job).
    following: Claim | None = None


@dataclass(frozen=True)
class Claim:
    """Jobs held under `token`, with what evaluating them needs: their inputs and, on SQLite,
    their policies and parents (`loaded`; None: read them apart; an exception: reading them
    failed, which fails each object)."""

    token: str
    jobs: list[queue.Job]
    inputs: dict[int, evaluations.Inputs]
    items: dict[int, policies.Item]  # what the engine reads of each job, by job id
    loaded: policies.Prepared | Exception | None = None


async def run_once(
    db: Database, policy: Policy, claim: Claim | None = None, chain: bool | Callable[[], bool] = False
) -> Batch:
    """Claim (unless `claim` is given) and finish one batch. `chain` (SQLite; a flag, or a
    function asked when the claim is due, such as "not stopping"): the finish transaction
    also claims the next batch (`Batch.following`), one write transaction a batch instead of
    two."""
    if claim is None:
        claim = await _claim(db, policy, _wanted(chain))
    token, jobs, inputs, loaded = claim.token, claim.jobs, claim.inputs, claim.loaded
    if not jobs:
        return Batch(0, False)
    metrics.WORKER_BATCH_JOBS.observe(len(jobs))
    items = claim.items
    # Policies, parents and images for the whole batch; a fault here fails each object, not the loop.
    prepare_error: Exception | None = None
    try:
        if isinstance(loaded, Exception):
            raise loaded
        if loaded is None:
            prepared = await policies.prepare(db, list(items.values()))
        else:
            prepared = loaded
            await policies.fetch_images(prepared, list(items.values()))
    except StoreUnavailable:
        raise
    except Exception as exc:
        log.exception("evaluation.prepare_failed", jobs=len(jobs))
        prepared, prepare_error = policies.Prepared(), exc

    done: list[decisions.NewDecision] = []
    retries: list[tuple[queue.Job, str]] = []
    lag_from: dict[int, int] = {}
    took: list[float] = []  # seconds of each successful evaluation (observed at once, below)
    for position, job in enumerate(jobs):
        if position and position % YIELD_EVERY == 0:
            # Evaluation is CPU work: let the event loop run between slices, so that webhook
            # deliveries (and, in `vigil serve`, HTTP requests) are not held for a whole batch.
            await asyncio.sleep(0)
        if job.attempts > policy.max_attempts:
            # Claimed this often without finishing: its evaluation kills or outlasts the worker.
            # Give up on it so that its object still reaches a terminal state.
            error = f"gave up after {policy.max_attempts} attempts that did not finish (worker crash or lease timeout)"
            log.error("evaluation.abandoned", job_id=job.id, object_id=job.object_id, attempts=job.attempts)
            metrics.EVALUATIONS.labels("abandoned").inc()
            done.append(_decision(job, None, {}, error, None))
            continue
        found = inputs.get(job.id)
        started = time.perf_counter()
        try:
            if found is None:
                raise LookupError(f"version {job.version} of {job.object_id!r} is missing")
            if prepare_error is not None:
                raise prepare_error
            result = prepared.evaluate(items[job.id], found.previous)
        except Exception as exc:  # an evaluator fault fails this object, never the worker
            metrics.EVALUATIONS.labels("error").inc()
            error = str(exc) if isinstance(exc, EvaluationError) else f"{exc.__class__.__name__}: {exc}"
            log.warning("evaluation.error", job_id=job.id, object_id=job.object_id, attempts=job.attempts, error=error)
            # A policy that fails on this object's data fails it again: no retry for that.
            if job.attempts < policy.max_attempts and getattr(exc, "retry", True):
                retries.append((job, error))
                continue
            done.append(_decision(job, None, {}, error, None))
            continue
        took.append(time.perf_counter() - started)
        output = msgspec.to_builtins(result.output)
        provenance = None if result.provenance is None else msgspec.to_builtins(result.provenance)
        done.append(_decision(job, output, result.metadata, None, result.policy_version, provenance))
        lag_from[job.id] = found.created_at_ms

    # Counted as evaluated whether or not the finish commits, like errors (counted above).
    if took:
        _SUCCEEDED.inc(len(took))
        metrics.observe_many(metrics.EVALUATION_SECONDS, took)
    by_key = {(j.team_id, j.namespace, j.object_id, j.version): j for j in jobs}
    async with db.write_direct() as conn:
        now = now_ms()
        held = await queue.finish(conn, token, [by_key[_key(d)].id for d in done])
        kept = [d for d in done if by_key[_key(d)].id in held]
        await decisions.insert_many(conn, kept, now)
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for decision in kept:
            request_id = by_key[_key(decision)].request_id
            if request_id:
                counts[request_id][0] += 1
                counts[request_id][1] += decision.status == "failed"
        completed, counted = await requests.count_done(conn, {rid: (n, f) for rid, (n, f) in counts.items()}, now)
        for decision in kept:
            # A request without a row is a call of one object, which this decision completes.
            request_id = by_key[_key(decision)].request_id
            if request_id and request_id not in counted:
                completed.append(
                    requests.single_object(request_id, decision.team_id, decision.namespace, now, decision.status)
                )
        # Webhook messages commit with the decisions they announce: no dual write.
        messages = await webhooks.fan_out(
            conn, lambda: webhook_events.for_decisions(kept, by_key, completed, policy.base_url, now), now,
            teams={d.team_id for d in kept} | {r.team_id for r in completed},
        )  # fmt: skip
        for job, error in retries:
            await queue.retry_later(conn, token, job.id, now + int(retry_delay_s(job.attempts) * 1000), error)
        # Asked now: a loop told to stop during the evaluation claims nothing more.
        chained = db.is_sqlite and _wanted(chain)
        following = await _claim_next(conn, db, policy) if chained else None
    if len(kept) < len(done):
        log.info("evaluation.lease_lost", jobs=len(done) - len(kept))
    finished = now_ms()
    lags = [
        max(finished - created, 0) / 1000
        for decision in kept
        if (created := lag_from.get(by_key[_key(decision)].id)) is not None
    ]
    metrics.observe_many(metrics.DECISION_LAG_SECONDS, lags)
    if chained:
        if following is None:  # that claim failed (logged); the loop claims on its own
            return Batch(len(jobs), True, messages)
        # The claim in the finish saw every job ready then, those this finish released included.
        return Batch(len(jobs), False, messages, following if following.jobs else None)
    more = len(jobs) >= policy.batch_size or any(job.later for job in jobs)
    return Batch(len(jobs), more, messages)


async def _claim(db: Database, policy: Policy, chain: bool = False) -> Claim:
    """A batch of jobs under a new token, with what evaluating each needs."""
    started = time.monotonic()
    if not db.is_sqlite:
        token = secrets.token_hex(12)
        # Timed as a whole for _CLAIMS: a slow read of the inputs also refreshes jobs' statistics.
        async with db.direct() as conn:
            jobs, inputs = await evaluations.claim_and_load(conn, token, policy.batch_size, now_ms(), policy.lease_ms)
        await _CLAIMS.claimed(db, time.monotonic() - started)
        return Claim(token, jobs, inputs, _items(jobs, inputs))
    async with db.write_direct(flush=False) as conn:  # a claim lost in a power cut is claimed again
        return await _claim_sqlite(conn, db, policy, chain)


async def _claim_sqlite(conn: Any, db: Database, policy: Policy, chain: bool) -> Claim:
    """The claim, in the caller's write transaction. A batch whose finish will claim again
    (`chain`) need not know which of its jobs hold back a later version (Batch.more)."""
    token = secrets.token_hex(12)
    now = now_ms()
    jobs = await queue.claim(conn, queue.EVALUATE, token, policy.batch_size, now, policy.lease_ms, later=not chain)
    await requests.mark_ingesting(conn, [j.request_id for j in jobs if j.request_id], now)
    # Read in the claim's transaction, on the event loop's thread: a read of its own took a
    # pooled connection and ran in aiosqlite's thread (trips that wait for the GIL). A worker
    # draining a queue: 95 / 66 → 45 / 40 µs of CPU an object for the inputs
    # (docs/decisions.md); the policies' version check and the parents as well since.
    inputs = await evaluations.load(conn, [job.id for job in jobs])
    loaded: policies.Prepared | Exception | None = None
    items = _items(jobs, inputs)
    if jobs:
        try:
            # A policy not compiled yet (None) is compiled after the transaction, in prepare.
            loaded = await policies.load(conn, list(items.values()), db, cached_only=True)
        except StoreUnavailable:
            raise
        except Exception as exc:  # the claim stands; each object of the batch fails
            loaded = exc
    return Claim(token, jobs, inputs, items, loaded)


async def _claim_next(conn: Any, db: Database, policy: Policy) -> Claim | None:
    """The next batch's claim in a finish transaction, under a savepoint: should it fail, the
    finish (decisions, messages) still commits, and None tells the loop to claim apart."""
    await conn.execute(sql("SAVEPOINT next_batch"))
    try:
        claimed = await _claim_sqlite(conn, db, policy, chain=True)
    except StoreUnavailable:
        raise
    except Exception:
        log.exception("evaluation.chained_claim_failed")
        await conn.execute(sql("ROLLBACK TO next_batch"))
        await conn.execute(sql("RELEASE next_batch"))
        return None
    await conn.execute(sql("RELEASE next_batch"))
    return claimed


def _wanted(chain: bool | Callable[[], bool]) -> bool:
    return chain() if callable(chain) else chain


def _items(jobs: list[queue.Job], inputs: dict[int, evaluations.Inputs]) -> dict[int, policies.Item]:
    return {
        job.id: policies.Item(job.id, job.team_id, job.namespace, found.settings, found.data)
        for job in jobs
        if (found := inputs.get(job.id)) is not None
    }


def _key(d: decisions.NewDecision) -> tuple[str, str, str, int]:
    return (d.team_id, d.namespace, d.object_id, d.version)


def _decision(
    job: queue.Job,
    output: dict | None,
    metadata: dict,
    error: str | None,
    policy_version: int | None,
    provenance: dict | None = None,
) -> decisions.NewDecision:
    return decisions.NewDecision(
        team_id=job.team_id,
        namespace=job.namespace,
        object_id=job.object_id,
        version=job.version,
        status="failed" if error else "succeeded",
        output=output,
        metadata=metadata,
        error=error,
        policy_version=policy_version,
        provenance=provenance,
    )
