"""Workers start on new jobs without waiting for their poll: a separate `vigil worker` (NOTIFY
on PostgreSQL, a datagram on SQLite), versions held back behind a batch, an import's chunks."""

from __future__ import annotations

import time

import httpx

from tests.blobs.support import create_upload, numbered_lines
from tests.helpers import create_key, free_port, query, start, vigil_env, wait_status


def test_separate_worker_is_woken_by_commits_not_by_its_poll(fresh_backend):
    """NOTIFY on PostgreSQL, a datagram from the API on SQLite (store/wake.py)."""
    url = fresh_backend.database_url
    port = free_port()
    env = vigil_env(url, VIGIL_WORKER_POLL_INTERVAL_MS="120000")  # a poll would take two minutes
    api = start(["api", "--port", str(port)], env, fresh_backend.workdir / "api.log", port)
    worker = start(["worker", "--no-migrate"], env, fresh_backend.workdir / "worker.log")
    team = create_key(url, "wake")
    try:
        with httpx.Client(base_url=api.base_url, timeout=30) as client:
            time.sleep(1.0)  # the worker is idle, waiting on its poll
            for n in range(3):
                request_id = client.post(
                    "/v1/data/products", json={"data": {"id": f"w{n}"}}, headers=team.headers
                ).json()["requestId"]
                status = wait_status(client, "products", request_id, team.headers, timeout_s=20)
                assert status["status"] == "succeeded"
    finally:
        worker.stop()
        api.stop()


def test_later_versions_held_back_by_a_batch_follow_it_without_a_poll(fresh_backend):
    """One request with three versions of one object: a claim takes only the first (versions
    go in order), so the worker must claim again after finishing it, though its batch was not
    full and nothing new was committed."""
    url = fresh_backend.database_url
    port = free_port()
    env = vigil_env(url, VIGIL_WORKER_POLL_INTERVAL_MS="120000")
    serve = start(["serve", "--port", str(port)], env, fresh_backend.workdir / "serve.log", port)
    team = create_key(url, "later")
    try:
        with httpx.Client(base_url=serve.base_url, timeout=30) as client:
            time.sleep(1.0)  # the worker is idle, waiting on its poll
            body = {"data": [{"id": "same", "n": n} for n in (1, 2, 3)]}
            request_id = client.post("/v1/data/products", json=body, headers=team.headers).json()["requestId"]
            status = wait_status(client, "products", request_id, team.headers, timeout_s=20)
        assert status["status"] == "succeeded"
        decided = query(url, "SELECT version FROM decisions WHERE object_id = 'same' ORDER BY version")
        assert [row.version for row in decided] == [1, 2, 3]
    finally:
        serve.stop()


def test_import_chunks_wake_the_evaluation_loops_of_their_worker(fresh_backend, tmp_path):
    """A separate `vigil worker` reads an import in chunks; each chunk's evaluation jobs must
    wake its own evaluation loops (SQLite has no NOTIFY), not wait for their poll."""
    url = fresh_backend.database_url
    port = free_port()
    base = vigil_env(url, VIGIL_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    api = start(["api", "--port", str(port)], base, fresh_backend.workdir / "api.log", port)
    team = create_key(url, "chunks")
    worker = None
    try:
        with httpx.Client(base_url=api.base_url, timeout=30) as client:
            created = create_upload(client, "products", team.headers)
            put = client.put(created["upload_url"], content=numbered_lines(250, prefix="c"))
            assert put.status_code == 200, put.text
        # Started after the upload, so its import runner finds the job at once; its evaluation
        # loops find nothing to claim and would next look in two minutes.
        env = {**base, "VIGIL_WORKER_POLL_INTERVAL_MS": "120000", "VIGIL_IMPORT_CHUNK_LINES": "100"}
        worker = start(["worker", "--no-migrate"], env, fresh_backend.workdir / "worker.log")
        deadline = time.monotonic() + 30
        decided = 0
        while decided < 250 and time.monotonic() < deadline:
            time.sleep(0.1)
            decided = query(url, "SELECT count(*) AS n FROM decisions WHERE object_id LIKE 'c%'")[0].n
        assert decided == 250, worker.log()
    finally:
        if worker is not None:
            worker.stop()
        api.stop()


def test_a_loop_gathers_jobs_after_a_wake_up_only_when_its_last_batch_was_big(fresh_backend):
    """VIGIL_WORKER_GATHER_MS (worker/loop.py): after a batch of at least GATHER_FROM_BATCH
    jobs (load), a wake-up is claimed only after the gathering pause; after a small batch (one
    object at a time) at once. One claim loop, a pause of 4 s and a poll of two minutes tell
    the three cases apart by far more than any scheduling delay."""
    url = fresh_backend.database_url
    port = free_port()
    env = vigil_env(
        url,
        VIGIL_WORKER_POLL_INTERVAL_MS="120000",
        VIGIL_WORKER_CONCURRENCY="1",
        VIGIL_WORKER_GATHER_MS="4000",
    )
    serve = start(["serve", "--port", str(port)], env, fresh_backend.workdir / "serve.log", port)
    team = create_key(url, "gather")

    def decided_in(client: httpx.Client, body: dict) -> float:
        started = time.monotonic()
        request_id = client.post("/v1/data/products", json=body, headers=team.headers).json()["requestId"]
        status = wait_status(client, "products", request_id, team.headers, timeout_s=30)
        assert status["status"] == "succeeded", status
        return time.monotonic() - started

    try:
        with httpx.Client(base_url=serve.base_url, timeout=30) as client:
            decided_in(client, {"data": {"id": "warm-up"}})  # the worker is running, its last batch small
            assert decided_in(client, {"data": {"id": "one"}}) < 2.0
            decided_in(client, {"data": [{"id": f"big-{n}"} for n in range(10)]})  # a batch of 10
            assert decided_in(client, {"data": {"id": "after-big"}}) >= 4.0  # gathered first
            assert decided_in(client, {"data": {"id": "after-small"}}) < 2.0
    finally:
        serve.stop()
