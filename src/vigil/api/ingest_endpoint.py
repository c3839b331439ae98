"""POST /v1/data/{namespace}, the hot route, as a bare ASGI callable in front of Starlette.

Every other route goes through Starlette. This one is the ingest path that a busy client
calls thousands of times a second, and Starlette's layers (error middleware, our request
context, exception middleware, router, Request object, body stream) cost more CPU than the
rest of the request put together (measured: docs/decisions.md, "A bare ASGI ingest route").
The answers are the same: the one error presenter, `x-request-id`, the same metrics.
Anything that is not a plain `POST /v1/data/<name>` (a NUL in the path, a root path, other
methods) goes to Starlette as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec
import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from vigil import metrics
from vigil.api.auth import authorize
from vigil.api.body import ClientGone, read_receive
from vigil.api.errors import unexpected_error, vigil_error_response
from vigil.errors import VigilError
from vigil.ids import new_id
from vigil.service import ingest
from vigil.service.group_commit import GroupCommitter
from vigil.service.keys import Authenticator

log = structlog.get_logger("vigil.http")

PREFIX = "/v1/data/"
ROUTE = "/v1/data/{namespace}"
SCOPE = "data:write"
_encode = msgspec.json.encode


def is_ingest(scope: Scope) -> bool:
    """A plain POST /v1/data/<name>: one path segment after the prefix, nothing unusual."""
    if scope["type"] != "http" or scope["method"] != "POST":
        return False
    path: str = scope["path"]
    return (
        path.startswith(PREFIX)
        and len(path) > len(PREFIX)
        and "/" not in path[len(PREFIX) :]
        and "\x00" not in path
        and not scope.get("root_path")
    )


class IngestEndpoint:
    def __init__(
        self,
        auth: Authenticator,
        committer: GroupCommitter[ingest.Submission],
        limits: ingest.Limits,
        max_body_bytes: int,
        on_commit: Callable[[], None],
    ) -> None:
        self._auth = auth
        self._committer = committer
        self._limits = limits
        self._max_body = max_body_bytes
        self._on_commit = on_commit
        # Label lookups resolved once: prometheus-client's labels() costs microseconds a call.
        self._seconds = metrics.HTTP_SECONDS.labels("POST", ROUTE)
        self._by_status: dict[int, object] = {}
        self._objects = metrics.OBJECTS_INGESTED.labels("add")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        authorization = content_length = incoming_id = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                content_length = value
            elif name == b"x-request-id":
                incoming_id = value
        http_request_id = incoming_id.decode("latin-1")[:128] or new_id("http")
        request_id_header = (b"x-request-id", http_request_id.encode("latin-1"))
        status = 500
        try:
            submission = await self._accept(scope, receive, authorization, content_length)
            body = _encode({"requestId": submission.request_id, "status": "accepted"})
            status = 200
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-length", str(len(body)).encode()),
                        (b"content-type", b"application/json"),
                        request_id_header,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        except ClientGone:
            status = 499
        except VigilError as exc:
            status = exc.status
            await _answer(vigil_error_response(exc), scope, receive, send, request_id_header)
        except Exception:
            log.exception("http.unexpected_error", method="POST", path=scope["path"], http_request_id=http_request_id)
            await _answer(unexpected_error(), scope, receive, send, request_id_header)
        finally:
            self._seconds.observe(time.perf_counter() - started)
            counter = self._by_status.get(status)
            if counter is None:
                counter = self._by_status[status] = metrics.HTTP_REQUESTS.labels("POST", ROUTE, str(status))
            counter.inc()  # type: ignore[attr-defined]

    async def _accept(
        self, scope: Scope, receive: Receive, authorization: bytes, content_length: bytes
    ) -> ingest.Submission:
        principal = await authorize(self._auth, authorization.decode("latin-1"), SCOPE)
        body = await read_receive(receive, content_length.decode("latin-1"), self._max_body)
        namespace = scope["path"][len(PREFIX) :]
        submission = ingest.prepare(principal.team_id, namespace, body, self._limits)
        await self._committer.submit(submission)
        self._objects.inc(submission.size)
        self._on_commit()
        return submission


async def _answer(response: ASGIApp, scope: Scope, receive: Receive, send: Send, request_id: tuple) -> None:
    async def send_with_id(message: dict) -> None:
        if message["type"] == "http.response.start":
            message.setdefault("headers", []).append(request_id)
        await send(message)

    await response(scope, receive, send_with_id)
