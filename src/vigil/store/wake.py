"""Waking separate `vigil worker` processes on SQLite: a datagram to each after a commit.

PostgreSQL carries NOTIFY (store/notify.py); SQLite has no channel between processes, so a
`vigil worker` beside a `vigil api` on one SQLite file found new jobs only at its next poll
(VIGIL_WORKER_POLL_INTERVAL_MS, 200 ms by default). Each such worker now binds a Unix datagram
socket in a folder beside the database file (`<file>.wake/`), and an API process sends every
socket there one empty datagram after its commits (at most one per turn of its event loop).
A datagram means "look now" and nothing more: the jobs are already committed when it is sent,
and a lost one costs a poll. `vigil serve` wakes its own in-process worker directly, and
announces too, for any `vigil worker` run beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import structlog

log = structlog.get_logger("vigil.wake")

_SOCKET_NAME_MAX = len("4194304-0123abcd.sock")
_UNIX_PATH_MAX = 100  # sun_path holds 108 bytes on Linux, 104 on macOS
RELIST_S = 1.0  # besides when the folder changes, an API lists it again at least this often


def folder_for(database_path: str) -> Path | None:
    """Where the workers of this SQLite file bind their sockets (None: an in-memory database).
    Beside the file if the socket paths fit, else a folder in the temp dir named by a hash
    of the file's real path; either way every process on the host derives the same one."""
    if not database_path or database_path == ":memory:" or database_path.startswith("file::memory:"):
        return None
    real = os.path.realpath(database_path)
    beside = Path(real + ".wake")
    if len(os.fsencode(beside)) + 1 + _SOCKET_NAME_MAX <= _UNIX_PATH_MAX:
        return beside
    digest = hashlib.sha256(real.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"vigil-wake-{digest}"


async def listen_forever(folder: Path, on_wake: Callable[[], None], stopping: asyncio.Event) -> None:
    """Bind a socket of this process in `folder` and call `on_wake` for each datagram until
    `stopping` is set; then remove the socket. Raises OSError if the socket cannot be made
    (a folder of another user, a read-only disk): the caller then relies on its poll."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.stat().st_uid != os.getuid():
        raise PermissionError(f"{folder} belongs to another user")
    path = folder / f"{os.getpid()}-{secrets.token_hex(4)}.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.bind(str(path))
    except OSError:
        sock.close()
        raise
    loop = asyncio.get_running_loop()

    def drain() -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while True:
                sock.recv(64)
        on_wake()

    loop.add_reader(sock.fileno(), drain)
    on_wake()  # anything committed before this process listened
    try:
        await stopping.wait()
    finally:
        loop.remove_reader(sock.fileno())
        sock.close()
        path.unlink(missing_ok=True)


class Announcer:
    """The API's side: call it after each commit of jobs (`create_app(on_commit=…)`)."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._targets: list[str] = []
        self._listed_at = float("-inf")
        self._listed_version: int | None = None  # the folder's mtime when it was listed
        self._pending = False

    def __call__(self) -> None:
        # Many requests commit in one turn of the loop (group commit): one datagram for all.
        if not self._pending:
            self._pending = True
            asyncio.get_running_loop().call_soon(self._send)

    def _send(self) -> None:
        self._pending = False
        now = time.monotonic()
        # A worker binding or removing its socket changes the folder's mtime: one stat a turn
        # finds a new worker at its first commit; the timed relisting covers coarse clocks.
        try:
            version: int | None = os.stat(self._folder).st_mtime_ns
        except OSError:
            version = None
        if version != self._listed_version or now - self._listed_at >= RELIST_S:
            self._listed_at, self._listed_version = now, version
            try:
                self._targets = [str(p) for p in self._folder.glob("*.sock")]
            except OSError:
                self._targets = []
        for target in list(self._targets):
            try:
                self._sock.sendto(b"", target)
            except BlockingIOError:
                pass  # its queue is full: it has wake-ups waiting already
            except (ConnectionRefusedError, FileNotFoundError):
                # A worker that died without removing its socket (SIGKILL): forget it.
                self._targets.remove(target)
                with contextlib.suppress(OSError):
                    Path(target).unlink()
            except OSError as exc:
                log.warning("wake.send_failed", socket=target, error=str(exc))
                self._targets.remove(target)

    def close(self) -> None:
        self._sock.close()
