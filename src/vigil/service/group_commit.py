"""Group commit: concurrent ingest calls share one transaction, and none is answered before it.

Each call hands its validated objects to `submit` and waits. A flusher takes everything that
is waiting (up to `max_objects`), writes it in one transaction, commits, and only then wakes
each caller. One commit (one fsync) then serves many requests: measured on this machine's
prototype, single-object POSTs went from ~2k/s with a transaction each to ~5-6k/s.

The writer is handed a `take` function, not the submissions: it calls it once its transaction
can write (on SQLite, once it holds the write lock), so that what arrives while it waits for
the lock joins this transaction instead of waiting for the next. At single-object saturation a
worker process holds SQLite's lock about a third of the time; taken before the wait, a group
averaged ≈ 33 submissions, taken after it 45-51, and `vigil serve` took a median 6 % more
requests a second over eight pairs (docs/decisions.md, "Group commit takes its calls once it
holds the lock").

If a shared transaction fails for a reason other than the database being unreachable, each
submission is retried alone, so one bad submission cannot fail its neighbours; so are those
waiting when a writer fails before it could take them.
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

# What a writer is handed: call it exactly once, when the transaction can write; it returns
# the submissions to write in it (possibly none: every caller went away, or another flusher
# took them while this one waited).
Take = Callable[[], Sequence[S]]


class GroupCommitter(Generic[S]):
    def __init__(self, write: Callable[[Take[S]], Awaitable[None]], max_objects: int, flushers: int) -> None:
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
            await self._flush(None)

    async def _flush(self, given: list[tuple[S, asyncio.Future[None]]] | None) -> None:
        """Write `given`, or (None) what is waiting when the writer calls its `take`."""
        taken: list[tuple[S, asyncio.Future[None]]] = []
        called = False

        def take() -> list[S]:
            nonlocal called
            if called:
                raise RuntimeError("a group-commit writer called take() twice")
            called = True
            taken.extend(self._take() if given is None else given)
            return [submission for submission, _ in taken]

        try:
            await self._write(take)
            if not called:  # a writer bug; left waiting, the calls would be flushed again forever
                take()
                raise RuntimeError("the group-commit writer returned without calling take()")
        except Exception as exc:
            if not called:  # failed before it could write (no connection, no lock): those waiting now
                take()
            if isinstance(exc, StoreUnavailable):
                for _, future in taken:
                    _settle(future, exc)
                return
            if len(taken) <= 1:
                log.exception("ingest.write_failed")
                for _, future in taken:
                    _settle(future, exc)
                return
            log.warning("ingest.shared_write_failed", submissions=len(taken), error=repr(exc))
            for item in taken:
                await self._flush([item])
            return
        except BaseException:
            # Cancelled: the process is going down (close() drains first; this is the abrupt
            # case). Answer rather than leave the callers hanging; as with a dropped connection,
            # whether the write committed is unknown to them, and a resend is a new version.
            for _, future in taken:
                _settle(future, StoreUnavailable("this process is shutting down; send the request again"))
            raise
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
