"""`vigil serve`'s worker as a process of its own: a `vigil worker` it starts, watches and stops.

In one process the worker and the API shared one core (the GIL): at single-object saturation
the API took nearly all of it and the worker fell behind, while a separate `vigil worker` on the
same database kept up and let the API accept more (bench/README.md). So `vigil serve` runs the
API itself and the worker as a child, exactly the `vigil worker` command:

- the child's stdin is a pipe (a socket pair under uvloop) from `vigil serve`; when it reads
  end-of-file (`vigil serve` stopping, or killed) it stops as after SIGTERM, so no worker
  outlives its `vigil serve`;
- terminal signals reach `vigil serve` alone (a session of its own), which stops the API first
  (draining its group commits) and only then the child;
- a child that exits on its own (or cannot be started) is started again after a pause (1 s,
  doubling to 30 s), unless `vigil serve` is stopping;
- the child serves its metrics on a loopback port of its own, which `vigil serve`'s `/metrics`
  merges into its answer (metrics.exposition).

Commits wake the child as they wake any `vigil worker`: NOTIFY on PostgreSQL, a datagram on
SQLite (store/wake.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys

import structlog

log = structlog.get_logger("vigil.serve")

STOP_GRACE_S = 60.0
RESTART_PAUSE_S = (1.0, 30.0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class WorkerChild:
    def __init__(self) -> None:
        self.metrics_port = 0
        self._process: asyncio.subprocess.Process | None = None
        self._stopping = asyncio.Event()
        self._draining = False  # `vigil serve` is stopping: its API drains, then stop() comes

    async def _start(self) -> asyncio.subprocess.Process:
        self.metrics_port = _free_port()
        command = [sys.executable, "-m", "vigil.cli", "worker", "--no-migrate", "--stop-on-stdin-eof"]
        process = await asyncio.create_subprocess_exec(
            *command, "--metrics-port", str(self.metrics_port), stdin=asyncio.subprocess.PIPE, start_new_session=True
        )
        log.info("serve.worker_started", pid=process.pid)
        return process

    async def run(self) -> None:
        """Keep one child running until `stop()`; return once the last one has exited."""
        pause = RESTART_PAUSE_S[0]
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                process = self._process = await self._start()
            except Exception as exc:  # no processes or files left, an interpreter that cannot -m
                log.error("serve.worker_start_failed", error=repr(exc), restart_in_s=pause)
                code = None
            else:
                if self._stopping.is_set():
                    self._close_stdin()  # stop() came while this one was starting
                code = await process.wait()
            if self._stopping.is_set():
                return
            if self._draining:
                # Stopped by a signal of its own while `vigil serve` drains (systemd signals every
                # process of the unit): not restarted; what the drain commits waits in the queue.
                log.info("serve.worker_exited_while_stopping", code=code)
                await self._stopping.wait()
                return
            if loop.time() - started > RESTART_PAUSE_S[1]:
                pause = RESTART_PAUSE_S[0]  # it ran a while: a new failure, not a crash loop
            if code is not None:
                log.error("serve.worker_exited", code=code, restart_in_s=pause)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), pause)
            if self._stopping.is_set():
                return
            pause = min(pause * 2, RESTART_PAUSE_S[1])

    def draining(self) -> None:
        """`vigil serve` has begun to stop: a child that exits from now on is not restarted."""
        self._draining = True

    def stop(self) -> None:
        """Close the child's stdin: it stops after its batches in flight (`run()` returns then).
        One still running after STOP_GRACE_S is killed; its leased jobs return to the queue."""
        self._draining = True
        self._stopping.set()
        self._close_stdin()
        asyncio.get_running_loop().call_later(STOP_GRACE_S, self._kill)

    def _close_stdin(self) -> None:
        process = self._process
        if process is not None and process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()

    def _kill(self) -> None:
        process = self._process
        if process is not None and process.returncode is None:
            log.warning("serve.worker_killed", pid=process.pid, after_s=STOP_GRACE_S)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
