"""The events a finished evaluation batch announces: one workflow event per decision, and
`request.completed` for each request that reached its terminal state."""

from __future__ import annotations

from typing import Any

from vigil.delivery import events
from vigil.service.links import object_url
from vigil.service.webhooks import Event, iso
from vigil.store import decisions, requests


def for_decisions(
    kept: list[decisions.NewDecision],
    jobs_by_key: dict[tuple[str, str, str, int], Any],
    completed: list[requests.RequestRecord],
    base_url: str,
    now: int,
) -> list[Event]:
    stamp = iso(now)
    occurred = []
    for d in kept:
        job = jobs_by_key[(d.team_id, d.namespace, d.object_id, d.version)]
        payload = events.workflow_event(
            namespace=d.namespace,
            object_id=d.object_id,
            version=d.version,
            request_id=job.request_id,
            url=object_url(base_url, d.namespace, d.object_id, d.version),
            status=d.status,
            output=d.output,
            metadata=d.metadata,
            error=d.error,
            timestamp=stamp,
        )
        occurred.append(Event(d.team_id, payload["type"], d.namespace, d.object_id, d.version, payload))
    occurred.extend(request_completed(r, now) for r in completed)
    return occurred


def request_completed(record: requests.RequestRecord, now: int) -> Event:
    payload = events.request_completed(
        namespace=record.namespace,
        request_id=record.id,
        status=record.status,
        total=record.total,
        failed=record.failed,
        timestamp=iso(now),
    )
    return Event(record.team_id, events.REQUEST_COMPLETED, record.namespace, None, None, payload)
