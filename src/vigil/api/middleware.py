"""Per-request context: a request id in every log line and in `x-request-id`, and HTTP metrics."""

from __future__ import annotations

import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil import metrics
from vigil.api.errors import nul_in_request, unexpected_error
from vigil.ids import new_id

log = structlog.get_logger("vigil.http")


class RequestContext:
    def __init__(self, app: ASGIApp, access_log: bool = False) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")[:128]
        http_request_id = incoming or new_id("http")
        structlog.contextvars.bind_contextvars(http_request_id=http_request_id)
        started = time.perf_counter()
        status = 500
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                message.setdefault("headers", []).append((b"x-request-id", http_request_id.encode("latin-1")))
            await send(message)

        try:
            nul_in_path = "\x00" in scope["path"]
            if nul_in_path or b"%00" in scope["query_string"]:
                # No stored name or id holds U+0000 (PostgreSQL cannot store it): answered at this
                # one seam rather than left for a driver to refuse deep inside a handler.
                await nul_in_request(nul_in_path)(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        except Exception:
            # Errors of our own tree are answered inside; anything reaching here is a bug.
            # Answered here (not by Starlette's outermost handler) so it keeps the request id.
            log.exception("http.unexpected_error", method=scope["method"], path=scope["path"])
            if not started_response:
                await unexpected_error()(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            metrics.HTTP_REQUESTS.labels(scope["method"], template, str(status)).inc()
            metrics.HTTP_SECONDS.labels(scope["method"], template).observe(elapsed)
            if self.access_log:
                log.info(
                    "http.request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    ms=round(elapsed * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("http_request_id")
