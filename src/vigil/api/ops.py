"""Operations: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

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
    except StoreUnavailable:
        pass  # still serve the process's own metrics
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
