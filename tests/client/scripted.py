"""A real HTTP server on 127.0.0.1 (stdlib, in a thread) that answers from a script.

`ScriptedServer.answers` is consumed one answer per request, whatever the method and path; the
last one repeats. Each request is recorded (method, path, headers, body, arrival time), so a
test can count the attempts a client made and measure the waits between them.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.helpers import free_port


@dataclass
class Answer:
    status: int
    body: Any = None  # JSON-encoded when not bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


def error(status: int, message: str, type_: str = "server_error", **headers: str) -> Answer:
    """An answer shaped like Vigil's errors."""
    body = {"error": {"type": type_, "message": message, "details": []}}
    return Answer(status, body, {k.replace("_", "-"): v for k, v in headers.items()})


ACCEPTED = Answer(200, {"requestId": "req_01scripted", "status": "accepted"})


@dataclass
class ScriptedServer:
    answers: list[Answer] = field(default_factory=lambda: [ACCEPTED])
    seen: list[Seen] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.release = threading.Event()  # ends slow answers early, at stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self.answers = list(answers)

    def gaps_s(self) -> list[float]:
        """The time between one request's arrival and the next's."""
        return [b.at - a.at for a, b in zip(self.seen, self.seen[1:], strict=False)]

    def start(self) -> ScriptedServer:
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    body = self._read_chunked()
                with scripted._lock:
                    scripted.seen.append(
                        Seen(
                            self.command,
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                        )
                    )
                    answer = scripted.answers.pop(0) if len(scripted.answers) > 1 else scripted.answers[0]
                if answer.delay_s:
                    scripted.release.wait(answer.delay_s)
                content = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("content-type", "application/json")
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(content)))
                    self.end_headers()
                    self.wfile.write(content)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout)

            def _read_chunked(self) -> bytes:
                chunks = []
                while size := int(self.rfile.readline().strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(chunks)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815 - the stdlib's names

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # connections the client dropped

        self._server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
