"""A real webhook receiver: an HTTP server on 127.0.0.1 in a thread, recording every request.

`respond` decides each answer: a function of the Delivery and the receiver, returning
(status, headers, delay_s). The default answers 204 at once.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.helpers import free_port


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    received_at: float
    status: int = 0

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


Answer = tuple[int, dict[str, str], float]


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    respond: Callable[[Delivery, Receiver], Answer] = lambda d, r: (204, {}, 0.0)
    deliveries: list[Delivery] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)  # ends slow answers early
    answer_body: bytes = b"ok"
    # A path of its own: a port reused by a later test's receiver never gets this one's messages.
    path: str = field(default_factory=lambda: f"/hooks/{secrets.token_hex(6)}")

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("content-length", "0"))
                if self.path != receiver.path:
                    self.rfile.read(length)
                    self.send_response(404)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                delivery = Delivery(
                    {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length), time.time()
                )
                status, headers, delay = receiver.respond(delivery, receiver)
                if delay:
                    receiver.release.wait(delay)
                delivery.status = status
                with receiver._lock:
                    receiver.deliveries.append(delivery)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    body = b"" if status in (204, 304) else receiver.answer_body  # 204 and 304 carry no body
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the sender gave up waiting (its timeout): expected for slow answers

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # connections the sender dropped; what matters is recorded in `deliveries`

        self._server = Server(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def accepted(self) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if 200 <= d.status < 300]

    def wait_for(self, predicate: Callable[[Receiver], bool], timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate(self):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"receiver did not get what was expected in {timeout_s}s: {len(self.deliveries)} requests"
                )
            time.sleep(0.02)
