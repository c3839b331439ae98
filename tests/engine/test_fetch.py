"""The fetcher against a real HTTP server on 127.0.0.1: time cap, redirect re-check, and a
host name that resolves to loopback refused like the address itself."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from vigil.fetch.client import Fetcher, FetchError, FetchLimits
from vigil.fetch.guard import AddressGuard, parse_networks


class _Slow(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/slow":
            time.sleep(2)
        if self.path == "/to-localhost":
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{self.server.server_address[1]}/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def _get(url: str, guard: AddressGuard, timeout_s: float = 5.0) -> bytes:
    async with Fetcher(FetchLimits(timeout_s=timeout_s), guard) as fetcher:
        return await fetcher.get(url)


def test_allowed_fetch_reads_the_body_and_a_slow_one_is_cut_off(base: str) -> None:
    guard = AddressGuard(parse_networks("127.0.0.1/32"))
    assert asyncio.run(_get(f"{base}/ok", guard)) == b"ok"
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        asyncio.run(_get(f"{base}/slow", guard, timeout_s=0.3))
    assert time.monotonic() - started < 1.5
    assert "no complete answer within 0.3 s" in str(caught.value) and caught.value.retry is True


def test_names_are_judged_by_the_addresses_they_resolve_to(base: str) -> None:
    port = base.rsplit(":", 1)[1]
    with pytest.raises(FetchError) as caught:
        asyncio.run(_get(f"http://localhost:{port}/ok", AddressGuard()))
    assert "refused to connect to localhost" in str(caught.value) and "loopback" in str(caught.value)
    assert caught.value.retry is False
    # allowed: 127.0.0.1 only; a redirect to localhost (which may resolve to ::1 too) is re-checked
    guard = AddressGuard(parse_networks("127.0.0.1/32"))
    try:
        assert asyncio.run(_get(f"{base}/to-localhost", guard)) == b"ok"
    except FetchError as exc:
        assert "::1 is a loopback address" in str(exc)
