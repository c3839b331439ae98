"""Waking separate workers on SQLite (store/wake.py): real Unix datagram sockets, and real
`vigil api` + `vigil worker` processes on one SQLite file."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import httpx

from tests.helpers import create_key, free_port, query, run_sync, start, vigil_env
from vigil.config import Settings
from vigil.store import wake
from vigil.store.db import Database
from vigil.worker.loop import Worker


def test_the_folder_is_beside_the_file_or_in_the_temp_dir_when_paths_would_be_too_long(tmp_path):
    short = tmp_path / "v.db"
    assert wake.folder_for(str(short)) == Path(os.path.realpath(short) + ".wake")
    deep = tmp_path / ("x" * 90) / "vigil.db"
    folder = wake.folder_for(str(deep))
    assert folder is not None and folder.parent == Path(os.environ.get("TMPDIR", "/tmp"))
    assert folder == wake.folder_for(str(deep))  # every process derives the same one
    assert wake.folder_for(":memory:") is None


def test_a_worker_that_starts_after_the_apis_first_announcement_is_found_at_the_next(tmp_path):
    folder = tmp_path / "v.db.wake"

    async def go() -> int:
        stopping = asyncio.Event()
        woken = [0]
        announce = wake.Announcer(folder)
        announce()  # no worker yet: the folder is listed empty
        await asyncio.sleep(0.01)
        listener = asyncio.ensure_future(
            wake.listen_forever(folder, lambda: woken.__setitem__(0, woken[0] + 1), stopping)
        )
        await asyncio.sleep(0.05)
        announce()  # well within RELIST_S: the folder's change is what makes it list again
        await asyncio.sleep(0.05)
        stopping.set()
        await listener
        announce.close()
        return woken[0]

    assert run_sync(go()) == 2  # once on start, once by the datagram


def test_an_announcement_wakes_every_listening_worker_and_forgets_dead_ones(tmp_path):
    folder = tmp_path / "v.db.wake"

    async def go() -> tuple[list[int], bool]:
        stopping = asyncio.Event()
        woken = [0, 0]
        listeners = [
            asyncio.ensure_future(wake.listen_forever(folder, lambda n=n: woken.__setitem__(n, woken[n] + 1), stopping))
            for n in range(2)
        ]
        await asyncio.sleep(0.05)
        assert woken == [1, 1]  # each wakes once on start: for what was committed before
        # A socket whose worker died without removing it (SIGKILL)
        dead = folder / "999999-dead.sock"
        lost = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        lost.bind(str(dead))
        lost.close()
        announce = wake.Announcer(folder)
        for _ in range(5):  # one turn of the loop: one datagram per worker
            announce()
        await asyncio.sleep(0.05)
        counts = list(woken)
        stopping.set()
        await asyncio.gather(*listeners)
        announce.close()
        return counts, dead.exists()

    counts, dead_left = run_sync(go())
    assert counts == [2, 2]
    assert not dead_left
    assert list(folder.glob("*.sock")) == []  # stopped workers remove their sockets


def test_a_separate_worker_on_sqlite_is_woken_by_the_apis_commit_not_its_poll(tmp_path):
    """With a one-minute poll, only the API's datagram can make the decision come in seconds."""
    url = f"sqlite:///{tmp_path / 'vigil.db'}"
    port = free_port()
    env = vigil_env(url, VIGIL_WORKER_POLL_INTERVAL_MS="60000")
    api = start(["api", "--port", str(port)], env, tmp_path / "api.log", port)
    worker = start(["worker", "--no-migrate"], env, tmp_path / "worker.log")
    team = create_key(url, "wake")
    try:
        folder = wake.folder_for(str(tmp_path / "vigil.db"))
        assert folder is not None
        deadline = time.monotonic() + 30
        while not list(folder.glob("*.sock")):  # the worker is up and listening
            assert time.monotonic() < deadline and worker.popen.poll() is None, worker.log()
            time.sleep(0.05)
        time.sleep(0.5)  # past its first claim, which found nothing: it waits for a wake-up
        with httpx.Client(base_url=api.base_url, timeout=10) as client:
            for n in range(3):
                sent = time.monotonic()
                answer = client.post("/v1/data/products", json={"data": {"id": f"p{n}"}}, headers=team.headers)
                assert answer.status_code == 200
                while not query(url, "SELECT 1 AS x FROM decisions WHERE object_id = :o", {"o": f"p{n}"}):
                    assert time.monotonic() - sent < 10, worker.log()
                    time.sleep(0.02)
    finally:
        worker.stop()
        api.stop()


def test_a_worker_whose_socket_cannot_be_made_falls_back_to_claiming_and_polling(tmp_path):
    """A folder that cannot be created (here: under a file) must not stop the worker."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    url = f"sqlite:///{tmp_path / 'vigil.db'}"

    async def go() -> bool:
        db = Database(url)
        try:
            worker = Worker(db, Settings(database_url=url))
            assert worker._commits_wake
            await worker._listen_for_datagrams(blocker / "vigil.db.wake")
            return worker._commits_wake
        finally:
            await db.dispose()

    assert run_sync(go()) is False
