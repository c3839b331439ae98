"""Python load generator (uvloop, raw HTTP/1.1 keep-alive), a separate process driven by run.py.

Two modes, both bounded in time and aimed at 127.0.0.1 only:

  closed   N connections POST as fast as the server answers (the wrk fallback):
             loadgen.py closed --port P --key K --connections 64 --duration 10 --batch 0 --prefix t1
  rate     open loop at a fixed offered rate; every POST's scheduled send time is recorded
           (latency counts from it, so a slow server cannot hide behind a slow client), and
           a sample of objects is polled with GET /v1/data/{ns}/objects/{id} until their
           decision is visible:
             loadgen.py rate --port P --key K --rate 2000 --duration 10 --warmup 2 \
                 --prefix c1 --records /tmp/records.json

Prints one JSON line with counters and latency percentiles (same keys as post.lua's
WRKJSON line in closed mode).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
import payload  # noqa: E402

HOST = "127.0.0.1"


class Conn:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> Conn:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        return self

    async def call(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        body = await self.reader.readexactly(length) if length else b""
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def post_request(port: int, path: str, key: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def get_request(port: int, path: str, key: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {key}\r\n\r\n".encode()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[index]


async def closed(args: argparse.Namespace) -> dict:
    latencies: list[float] = []
    counts = {"requests": 0, "status": 0, "read": 0, "connect": 0}
    deadline = time.perf_counter() + args.duration

    async def one(number: int) -> None:
        conn = Conn(args.port)
        try:
            await conn.open()
        except OSError:
            counts["connect"] += 1
            return
        n = 0
        while time.perf_counter() < deadline:
            n += 1
            raw = post_request(args.port, args.path, args.key, payload.body(args.prefix, number, n, args.batch))
            started = time.perf_counter()
            try:
                status, _ = await conn.call(raw)
            except (OSError, asyncio.IncompleteReadError):
                counts["read"] += 1
                conn.close()
                continue
            latencies.append(time.perf_counter() - started)
            counts["requests"] += 1
            if not 200 <= status < 300:
                counts["status"] += 1
        conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(args.connections)))
    elapsed = time.perf_counter() - started
    return {
        **counts,
        "write": 0,
        "timeout": 0,
        "duration_us": int(elapsed * 1e6),
        **{
            f"p{name}_us": int((percentile(latencies, q) or 0) * 1e6)
            for name, q in (("50", 50), ("90", 90), ("99", 99), ("999", 99.9))
        },
        "mean_us": (sum(latencies) / len(latencies) * 1e6) if latencies else 0.0,
        "max_us": int(max(latencies, default=0) * 1e6),
    }


async def rate(args: argparse.Namespace) -> dict:
    total = int(args.rate * (args.warmup + args.duration))
    measured_from = int(args.rate * args.warmup)
    every = max(1, round(args.rate / args.poll_per_s)) if args.poll_per_s > 0 else 0
    pool: asyncio.Queue[Conn] = asyncio.Queue()
    polls: asyncio.Queue[Conn] = asyncio.Queue()
    for _ in range(args.connections):
        pool.put_nowait(await Conn(args.port).open())
    for _ in range(args.poll_connections if every else 0):  # --poll-per-s 0: no polling at all
        polls.put_nowait(await Conn(args.port).open())
    records: list[tuple[str, float]] = []  # measured, accepted: (object id, scheduled send, epoch ms)
    acks: list[float] = []
    visible: list[float] = []
    counts = {"sent": 0, "accepted": 0, "status": 0, "errors": 0, "poll_timeouts": 0, "polls": 0}
    decode = msgspec.json.decode
    t0 = time.perf_counter()
    e0 = time.time()

    async def poll(oid: str, scheduled: float) -> None:
        path = f"{args.path}/objects/{oid}"
        raw = get_request(args.port, path, args.key)
        give_up = scheduled + args.poll_timeout
        while time.perf_counter() < give_up:
            conn = await polls.get()
            try:
                status, body = await conn.call(raw)
            except (OSError, asyncio.IncompleteReadError):
                conn.close()
                status, body = 0, b""
            finally:
                polls.put_nowait(conn)
            counts["polls"] += 1
            if status == 200 and decode(body).get("decision") is not None:
                visible.append(time.perf_counter() - scheduled)
                return
            await asyncio.sleep(args.poll_interval_ms / 1000)
        counts["poll_timeouts"] += 1

    async def post(i: int, scheduled: float) -> None:
        oid = payload.object_id(args.prefix, 0, i, 0)
        raw = post_request(args.port, args.path, args.key, payload.body(args.prefix, 0, i, 0))
        conn = await pool.get()
        try:
            status, _ = await conn.call(raw)
        except (OSError, asyncio.IncompleteReadError):
            conn.close()
            counts["errors"] += 1
            return
        finally:
            pool.put_nowait(conn)
        if i < measured_from:
            return
        acks.append(time.perf_counter() - scheduled)
        if not 200 <= status < 300:
            counts["status"] += 1
            return
        counts["accepted"] += 1
        records.append((oid, (e0 + (scheduled - t0)) * 1000))
        if every and (i - measured_from) % every == 0:
            tasks.add(asyncio.create_task(poll(oid, scheduled)))

    tasks: set[asyncio.Task[None]] = set()
    for i in range(total):
        scheduled = t0 + i / args.rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        counts["sent"] += 1
        tasks.add(asyncio.create_task(post(i, scheduled)))
    send_end = time.perf_counter()
    send_end_epoch = time.time()
    while tasks:
        pending = [t for t in tasks if not t.done()]
        if not pending:
            break
        await asyncio.wait(pending)
    if args.records:
        Path(args.records).write_text(json.dumps(records))

    def ms(values: list[float], q: float) -> float | None:
        value = percentile(values, q)
        return None if value is None else round(value * 1000, 2)

    return {
        **counts,
        "offered_rate": args.rate,
        "measure_start_epoch": e0 + args.warmup,
        "send_end_epoch": send_end_epoch,
        "measured_sent": total - measured_from,
        "achieved_rate": round((total - measured_from) / max(send_end - t0 - args.warmup, 1e-9), 1),
        "ack_p50_ms": ms(acks, 50),
        "ack_p99_ms": ms(acks, 99),
        "visible_n": len(visible),
        "visible_p50_ms": ms(visible, 50),
        "visible_p99_ms": ms(visible, 99),
        "visible_max_ms": ms(visible, 100),
        "poll_interval_ms": args.poll_interval_ms,
        "polls_per_s": round(counts["polls"] / max(time.perf_counter() - t0, 1e-9), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["closed", "rate"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", default="")
    parser.add_argument("--path", default="/v1/data/products")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--prefix", default="p")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--batch", type=int, default=0, help="closed mode: 0 = single object")
    parser.add_argument("--rate", type=float, default=100, help="rate mode: POSTs per second")
    parser.add_argument("--warmup", type=float, default=0, help="rate mode: seconds not measured")
    parser.add_argument("--poll-per-s", type=float, default=10, help="rate mode: objects polled per second (0: none)")
    parser.add_argument("--poll-interval-ms", type=float, default=20)
    parser.add_argument("--poll-timeout", type=float, default=15)
    parser.add_argument(
        "--poll-connections", type=int, default=2, help="GETs in flight at most (caps the probe's own load)"
    )
    parser.add_argument("--records", default="", help="rate mode: write [id, scheduled epoch ms] here")
    args = parser.parse_args()
    import uvloop

    result = uvloop.run(closed(args) if args.mode == "closed" else rate(args))
    print("LOADJSON " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
