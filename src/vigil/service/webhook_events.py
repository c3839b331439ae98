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
    for r in completed:
        payload = events.request_completed(
            namespace=r.namespace, request_id=r.id, status=r.status, total=r.total, failed=r.failed, timestamp=stamp
        )
        occurred.append(Event(r.team_id, events.REQUEST_COMPLETED, r.namespace, None, None, payload))
    return occurred
