"""Webhook receiver for bench/run.py scenario (c): a real HTTP server on 127.0.0.1, in its own
process, cheap per request (uvloop + httptools, one asyncio protocol, answers 204).

    python bench/receiver.py --port P

Every `POST` (any path but the control ones below) is a delivery. For each it records the
receive time (`time.time()` in ms, taken when the whole request has arrived), the event's
`type`, object `id` and `version` from the JSON body, and whether the Standard Webhooks
headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`) were there; signatures are
not verified. A repeated `webhook-id` (an at-least-once redelivery) is counted as a
duplicate and keeps the first receive time.

Control calls, for the harness:

  GET  /stats?prefix=ID&from_ms=T0&to_ms=T1   counters, deliveries received in [T0, T1), objects with
                                              ids starting with ID (first receive of any version), and
                                              of those, the object versions first received in [T0, T1)
  GET  /records?prefix=ID                     [[object id, version, receive ms], ...] (first receive
                                              of each object version whose id starts with ID)
  POST /reset                                 forget everything received so far
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import time
from urllib.parse import parse_qs, urlsplit

import httptools
import msgspec

NO_CONTENT = b"HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n"
SIGNING_HEADERS = (b"webhook-id", b"webhook-timestamp", b"webhook-signature")


class Event(msgspec.Struct):
    """The fields of a Vigil webhook event this receiver keeps (others are ignored)."""

    type: str = ""
    id: str | None = None
    version: int | None = None


DECODE = msgspec.json.Decoder(Event).decode


class Log:
    """Everything received since the last reset."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.times: list[float] = []  # receive ms of every delivery, in arrival order (ascending)
        self.first: dict[tuple[str, int | None], float] = {}  # (object id, version) → first receive ms
        self.message_ids: set[bytes] = set()
        self.types: dict[str, int] = {}
        self.duplicates = 0
        self.unsigned = 0
        self.undecodable = 0

    def add(self, received_ms: float, headers: dict[bytes, bytes], body: bytes) -> None:
        self.times.append(received_ms)
        if not all(h in headers for h in SIGNING_HEADERS):
            self.unsigned += 1
        message_id = headers.get(b"webhook-id")
        if message_id is not None:
            if message_id in self.message_ids:
                self.duplicates += 1
                return
            self.message_ids.add(message_id)
        try:
            event = DECODE(body)
        except msgspec.DecodeError:
            self.undecodable += 1
            return
        self.types[event.type] = self.types.get(event.type, 0) + 1
        if event.id is not None:
            self.first.setdefault((event.id, event.version), received_ms)

    def stats(self, query: dict[str, list[str]]) -> dict:
        prefix = query.get("prefix", [""])[0]
        out = {
            "received": len(self.times),
            "objects": len(self.first),
            "duplicates": self.duplicates,
            "unsigned": self.unsigned,
            "undecodable": self.undecodable,
            "types": self.types,
            "first_ms": self.times[0] if self.times else None,
            "last_ms": self.times[-1] if self.times else None,
        }
        if prefix:
            out["prefix_objects"] = sum(1 for oid, _ in self.first if oid.startswith(prefix))
        if "from_ms" in query and "to_ms" in query:
            lo, hi = float(query["from_ms"][0]), float(query["to_ms"][0])
            out["in_window"] = bisect.bisect_left(self.times, hi) - bisect.bisect_left(self.times, lo)
            if prefix:
                out["prefix_in_window"] = sum(
                    1 for (oid, _), ms in self.first.items() if lo <= ms < hi and oid.startswith(prefix)
                )
        return out

    def records(self, query: dict[str, list[str]]) -> list:
        prefix = query.get("prefix", [""])[0]
        return [[oid, version, ms] for (oid, version), ms in self.first.items() if oid.startswith(prefix)]


LOG = Log()


class Receiver(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self._start()

    def _start(self) -> None:
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                self.transport.close()

    # httptools callbacks
    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        received_ms = time.time() * 1000
        assert self.transport is not None
        method = self.parser.get_method()
        path = self.url.split(b"?", 1)[0]
        if method == b"POST" and path not in (b"/reset",):
            LOG.add(received_ms, self.headers, b"".join(self.body))
            self.transport.write(NO_CONTENT)
        else:
            self.transport.write(self._control(method, self.url.decode()))
        if not self.parser.should_keep_alive():
            self.transport.close()
        self._start()

    @staticmethod
    def _control(method: bytes, url: str) -> bytes:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        if method == b"POST" and parts.path == "/reset":
            LOG.reset()
            answer: object = {"reset": True}
        elif method == b"GET" and parts.path == "/stats":
            answer = LOG.stats(query)
        elif method == b"GET" and parts.path == "/records":
            answer = LOG.records(query)
        elif method == b"GET" and parts.path == "/":
            answer = {"ok": True}
        else:
            return b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        body = json.dumps(answer).encode()
        head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        return head.encode() + body


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Receiver, "127.0.0.1", port, backlog=1024)
    print(f"webhook receiver listening on 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvloop

    try:
        uvloop.run(serve(args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
