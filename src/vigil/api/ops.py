"""Operations: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from vigil import metrics
from vigil.api.responses import json_response
from vigil.errors import StoreUnavailable
from vigil.service import health


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    problems = await health.readiness_problems(request.app.state.db)
    if problems:
        return json_response({"status": "unavailable", "problems": problems}, 503)
    return json_response({"status": "ready"})


async def metrics_endpoint(request: Request) -> Response:
    try:
        for kind, depth in (await health.queue_depth(request.app.state.db)).items():
            metrics.QUEUE_DEPTH.labels(kind).set(depth)
        _set_webhook_gauges(await health.webhook_gauges(request.app.state.db))
    except StoreUnavailable:
        pass  # still serve the process's own metrics
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _set_webhook_gauges(rows: list[dict]) -> None:
    now_s = time.time()
    for gauge in (
        metrics.WEBHOOK_ENDPOINT_PENDING,
        metrics.WEBHOOK_ENDPOINT_OLDEST_SECONDS,
        metrics.WEBHOOK_ENDPOINT_DISABLED,
        metrics.WEBHOOK_ENDPOINT_SUCCESS_RATE,
    ):
        gauge.clear()  # endpoints deleted since the last scrape disappear
    for row in rows:
        endpoint = row["id"]
        metrics.WEBHOOK_ENDPOINT_PENDING.labels(endpoint).set(row["pending"])
        oldest = row["oldest"]
        metrics.WEBHOOK_ENDPOINT_OLDEST_SECONDS.labels(endpoint).set(
            0 if oldest is None else max(now_s - oldest / 1000, 0)
        )
        metrics.WEBHOOK_ENDPOINT_DISABLED.labels(endpoint).set(0 if row["enabled"] else 1)
        if row["attempts"]:
            metrics.WEBHOOK_ENDPOINT_SUCCESS_RATE.labels(endpoint).set(row["successes"] / row["attempts"])
