"""What a delivery's outcome does to its message and its endpoint.

- 2xx: the message is delivered; the endpoint is healthy again.
- 410 Gone: the endpoint is disabled (the receiver said it is gone for good); its pending
  messages become failed, so `recover` can send them once it is enabled again.
- anything else (3xx included, timeouts, refused connections): the next attempt follows the
  retry schedule (a 429's Retry-After is honoured); when the schedule runs out the message
  is failed. An endpoint failing without a single success for `disable_after` is disabled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from vigil.delivery import schedule
from vigil.store import webhook_endpoints, webhook_messages
from vigil.store.clock import now_ms
from vigil.store.db import Database

log = structlog.get_logger("vigil.deliveries")


@dataclass(frozen=True)
class Policy:
    schedule: tuple[float, ...]
    disable_after_ms: int


def _result(finished: Any, policy: Policy, now: int) -> webhook_messages.AttemptResult:
    outcome = finished.outcome
    claimed = finished.claimed
    if outcome.succeeded:
        status, next_ms = webhook_messages.DELIVERED, now
    elif outcome.status_code == 410:
        status, next_ms = webhook_messages.FAILED, now
    else:
        retry_after = schedule.parse_retry_after(outcome.retry_after) if outcome.status_code == 429 else None
        delay = schedule.next_delay_s(policy.schedule, claimed.attempts, retry_after)
        if delay is None:
            status, next_ms = webhook_messages.FAILED, now
        else:
            status, next_ms = webhook_messages.PENDING, finished.started_ms + outcome.latency_ms + int(delay * 1000)
    return webhook_messages.AttemptResult(
        seq=claimed.seq,
        endpoint_id=claimed.endpoint_id,
        attempt=claimed.attempts,
        started_at_ms=finished.started_ms,
        status_code=outcome.status_code,
        latency_ms=outcome.latency_ms,
        error=outcome.error,
        response_excerpt=outcome.response_excerpt,
        new_status=status,
        next_attempt_ms=next_ms,
    )


async def record(db: Database, policy: Policy, finished: Sequence[Any]) -> None:
    now = now_ms()
    results = [_result(item, policy, now) for item in finished]
    tokens = {item.claimed.seq: item.token for item in finished}
    succeeded = {r.endpoint_id for r in results if r.new_status == webhook_messages.DELIVERED}
    failed = {r.endpoint_id for r in results if r.new_status != webhook_messages.DELIVERED} - succeeded
    gone = {r.endpoint_id for r in results if r.status_code == 410}
    async with db.write_direct() as conn:
        await webhook_messages.record_attempts(conn, tokens, results)
        await webhook_endpoints.mark_healthy(conn, sorted(succeeded), now)
        await webhook_endpoints.mark_failing(conn, sorted(failed), now)
        to_disable = {ep: "the endpoint answered 410 Gone" for ep in gone}
        long_failing = await webhook_endpoints.failing_longer_than(conn, sorted(failed), now - policy.disable_after_ms)
        for endpoint_id in long_failing:
            to_disable.setdefault(endpoint_id, f"no successful delivery for {policy.disable_after_ms // 1000} s")
        for endpoint_id, reason in sorted(to_disable.items()):
            await webhook_endpoints.disable(conn, endpoint_id, reason, now)
            await webhook_messages.fail_pending_of_endpoint(conn, endpoint_id, f"endpoint disabled: {reason}")
            log.warning("deliveries.endpoint_disabled", endpoint_id=endpoint_id, reason=reason)
