"""Group commit: concurrent ingest calls share one transaction, and none is answered before it.

Each call hands its validated objects to `submit` and waits. A flusher takes everything that
is waiting (up to `max_objects`), writes it in one transaction, commits, and only then wakes
each caller. One commit (one fsync) then serves many requests: measured on this machine's
prototype, single-object POSTs went from ~2k/s with a transaction each to ~5-6k/s.

If a shared transaction fails for a reason other than the database being unreachable, each
submission is retried alone, so one bad submission cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeVar

import structlog

from vigil.errors import StoreUnavailable

log = structlog.get_logger("vigil.group_commit")


class Sized(Protocol):
    @property
    def size(self) -> int: ...


S = TypeVar("S", bound=Sized)


class GroupCommitter(Generic[S]):
    def __init__(self, write: Callable[[Sequence[S]], Awaitable[None]], max_objects: int, flushers: int) -> None:
        self._write = write
        self._max_objects = max_objects
        self._flushers = flushers
        self._waiting: deque[tuple[S, asyncio.Future[None]]] = deque()
        self._wakeup: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    def _start(self) -> None:
        self._wakeup = asyncio.Event()
        # A clean context: flushers outlive the request that started them, and must not log
        # that request's id forever.
        self._tasks = [
            asyncio.create_task(self._flush_forever(), context=contextvars.Context()) for _ in range(self._flushers)
        ]

    async def submit(self, submission: S) -> None:
        """Returns once the submission is committed; raises if it could not be."""
        if self._closing:
            raise StoreUnavailable("this process is shutting down; send the request again")
        if not self._tasks:
            self._start()
        assert self._wakeup is not None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((submission, future))
        self._wakeup.set()
        await future

    def _take(self) -> list[tuple[S, asyncio.Future[None]]]:
        taken: list[tuple[S, asyncio.Future[None]]] = []
        size = 0
        while self._waiting:
            submission, future = self._waiting[0]
            if taken and size + submission.size > self._max_objects:
                break
            self._waiting.popleft()
            if future.cancelled():  # the caller went away before we started; nothing was promised
                continue
            taken.append((submission, future))
            size += submission.size
        return taken

    async def _flush_forever(self) -> None:
        assert self._wakeup is not None
        while True:
            if not self._waiting:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            taken = self._take()
            if taken:
                await self._flush(taken)

    async def _flush(self, taken: list[tuple[S, asyncio.Future[None]]]) -> None:
        try:
            await self._write([submission for submission, _ in taken])
        except StoreUnavailable as exc:
            for _, future in taken:
                _settle(future, exc)
            return
        except Exception as exc:
            if len(taken) == 1:
                log.exception("ingest.write_failed")
                _settle(taken[0][1], exc)
                return
            log.warning("ingest.shared_write_failed", submissions=len(taken), error=repr(exc))
            for item in taken:
                await self._flush([item])
            return
        for _, future in taken:
            _settle(future, None)

    async def close(self) -> None:
        """Write what is waiting, then stop the flushers."""
        self._closing = True
        if self._wakeup is not None:
            self._wakeup.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _settle(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)
