"""Operations: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

import structlog
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from vigil import metrics
from vigil.api.responses import json_response
from vigil.errors import StoreUnavailable
from vigil.service import health

log = structlog.get_logger("vigil.api")
SCRAPE_TIMEOUT_S = 5.0


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
    others = await scrape_all(request.app.state.merge_metrics_from(), request.app.state.last_scrapes)
    return Response(metrics.exposition(others), media_type=CONTENT_TYPE_LATEST)


async def scrape_all(ports: Sequence[int], last_good: dict[int, str]) -> list[str]:
    """The /metrics texts of the processes on `ports`, each the last complete one it gave."""
    others = []
    for port in ports:
        text = await _scrape(port)
        if text is None:
            # Its counters did not go back to zero: answer what it said last, so that Prometheus
            # sees no reset. A restarted child has a new port, and starts from zero for real.
            text = last_good.get(port)
        else:
            last_good[port] = text
        if text is not None:
            others.append(text)
    for gone in set(last_good) - set(ports):
        del last_good[gone]
    return others


async def _scrape(port: int) -> str | None:
    """The /metrics text of another Vigil process on this host (`vigil serve`'s worker child),
    or None if it does not answer now (being restarted): the answer then has this process's own."""
    writer = None
    try:
        async with asyncio.timeout(SCRAPE_TIMEOUT_S):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            answer = await reader.read()
    except (OSError, TimeoutError) as exc:
        log.warning("metrics.scrape_failed", port=port, error=repr(exc))
        return None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        (line.split(b":", 1)[1].strip() for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        b"",
    )
    complete = length.isdigit() and int(length) == len(body)
    if not head.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")) or not complete:
        # Not an answer, or a cut one (the child stopped while answering).
        log.warning("metrics.scrape_failed", port=port, error=head[:100].decode(errors="replace"))
        return None
    return body.decode()


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
